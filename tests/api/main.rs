//! Integration tests, from the outside in: the compiled binary in both modes (`binary`,
//! `lambda`), the real `HttpServer` on an ephemeral port (`http_server`), and every row of the
//! HTTP contract through the App factory in-process (`contract`).

#![allow(clippy::unwrap_used)]

mod bad_input;
mod binary;
mod concurrency;
mod contract;
mod corpus;
mod docs;
mod http_server;
mod lambda;
mod openapi;
mod properties;
mod streaming;
mod support;
