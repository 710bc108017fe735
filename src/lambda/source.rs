//! Where an event came from, which decides the shape of its answer.

/// The HTTP event sources, by the response shape each expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// API Gateway REST APIs and HTTP APIs with payload 1.0: `multiValueHeaders`.
    V1,
    /// HTTP APIs with payload 2.0 and Function URLs: `headers` and `cookies`.
    V2,
    /// An Application Load Balancer, answered in the header style its event arrived in.
    Alb {
        /// The target group has multi-value headers on.
        multi_value: bool,
    },
}
