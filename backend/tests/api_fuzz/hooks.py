"""Checks of the shop's own that Schemathesis runs beside its built-in ones (backend/tests/api_fuzz.rs
loads this module through SCHEMATHESIS_HOOKS)."""

import schemathesis

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@schemathesis.check
def commands_need_an_idempotency_key(ctx, response, case):
    """A request that may change state and carries no Idempotency-Key must be refused: a command
    without a key could not be retried safely, so the shop never runs one."""
    request = response.request
    if request.method not in STATE_CHANGING:
        return None
    key = request.headers.get("Idempotency-Key")
    if (key is None or key == "") and 200 <= response.status_code < 300:
        raise AssertionError(
            f"{request.method} {request.path_url} answered {response.status_code} without an Idempotency-Key: "
            "a command must be refused without one"
        )
    return None
