//! A REST API that runs unchanged as an AWS Lambda function (behind API Gateway, a Function URL
//! or an ALB) and as a plain HTTP server.
//!
//! [`launcher::run`] reads the environment, picks the mode and serves [`app::app`]. Settings
//! and their defaults are listed on [`config::Settings`].

#![warn(missing_docs, clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

/// The one `App` factory all modes share.
pub mod app;
/// Settings from the environment, the mode included.
pub mod config;
/// What handlers and middleware read about the running service.
pub mod context;
/// The JSON error contract.
pub mod error;
/// Strict JSON validation for `/echo`.
pub mod json;
/// Lambda mode's Runtime API proxy: event and response reshaping around lambda-web.
pub mod lambda;
/// Chooses Lambda or HTTP mode and runs the service.
pub mod launcher;
/// Every limit the service enforces.
pub mod limits;
/// Logger set-up.
pub mod logging;
/// Request logging, request ids, request-head limits and HEAD handling.
pub mod middleware;
/// The endpoints.
pub mod routes;
