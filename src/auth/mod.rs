//! Authentication: decoding the Salesforce context and calling the AppLink API.

mod cache;
mod client;
pub mod context;
mod json;
mod tls;

pub use cache::AuthCache;
pub use client::{ApiClient, AuthRequest};
