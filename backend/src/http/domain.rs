//! The shop's domain errors as the API answers them: the one place where a product rule, an
//! idempotency key's fault or a command's failure becomes a status and a `shop.Error` body.

use http::StatusCode;

use super::wire::ApiError;
use crate::catalog::validate::ProductError;
use crate::commands::CommandError;
use crate::commands::meta::KeyError;

impl From<ProductError> for ApiError {
    fn from(e: ProductError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let message = e.to_string();
        match e {
            CommandError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                message,
            ),
            // A produce that failed is retried later than an apply that is late.
            CommandError::NotProduced(_) => ApiError::unavailable(message, 2),
            CommandError::NotAppliedYet | CommandError::Stopped => {
                ApiError::unavailable(message, 1)
            }
            CommandError::NoRecord { .. } => ApiError::internal(message),
        }
    }
}
