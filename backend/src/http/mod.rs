//! The HTTP vocabulary every layer of the API speaks: formats, bodies, errors and replies
//! ([`wire`]) and the domain errors as answers ([`domain`]); what handlers read from a request (admin token, query, command body, ids, the
//! client's address: [`request`]) and the parameters they declare ([`params`]); the `If-Match`
//! precondition of a product change (RFC 9110, [`if_match`]); which browser origins may call the
//! API ([`origin`], CORS); the cart cookie, a server-issued secret with a MAC, and the cart names
//! derived from it ([`cookie`]); new carts per client address ([`cart_limit`]).
//!
//! Nothing here routes or serves: that is [`crate::server`], at the top of the crate map.

pub mod cart_limit;
pub mod cookie;
pub mod domain;
pub mod if_match;
pub mod origin;
pub mod params;
pub mod request;
pub mod wire;
