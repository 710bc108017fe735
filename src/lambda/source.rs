//! Where an event came from, which decides how it is read, the shape of its answer, and whether
//! that answer may be streamed.

/// The HTTP event sources Lambda mode serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An API Gateway REST API: payload 1.0 without a `version`; answered with
    /// `multiValueHeaders`. Its Lambda proxy integration can stream.
    RestApi,
    /// An API Gateway HTTP API with payload 1.0 (`"version": "1.0"`); answered like a REST API.
    HttpApiV1,
    /// An API Gateway HTTP API with payload 2.0; answered with `headers` and `cookies`.
    HttpApiV2,
    /// A Lambda Function URL: the payload 2.0 event of a `*.lambda-url.*` domain; answered like
    /// an HTTP API, or streamed when its `InvokeMode` is `RESPONSE_STREAM`.
    FunctionUrl,
    /// An Application Load Balancer, answered in the header style its event arrived in.
    Alb {
        /// The target group has multi-value headers on.
        multi_value: bool,
    },
    /// A VPC Lattice target group, event structure V1 (snake_case keys, no `requestContext`).
    LatticeV1,
    /// A VPC Lattice target group, event structure V2 (camelCase, multi-value headers and query).
    LatticeV2,
}

/// The response envelope a source expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `statusCode`, `multiValueHeaders` (Set-Cookie among them), `body`, `isBase64Encoded`.
    MultiValue,
    /// `statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`.
    V2,
    /// An ALB's or VPC Lattice's: `statusCode`, `statusDescription`, `headers` (one value each)
    /// or, for an ALB with multi-value headers on, `multiValueHeaders`, `body`, `isBase64Encoded`.
    LoadBalancer {
        /// Headers as lists.
        multi_value: bool,
    },
}

impl Source {
    /// The shape of the answer this source expects when it is buffered.
    pub fn shape(self) -> Shape {
        match self {
            Source::RestApi | Source::HttpApiV1 => Shape::MultiValue,
            Source::HttpApiV2 | Source::FunctionUrl => Shape::V2,
            Source::Alb { multi_value } => Shape::LoadBalancer { multi_value },
            Source::LatticeV1 | Source::LatticeV2 => Shape::LoadBalancer { multi_value: false },
        }
    }

    /// Whether this source can take a streamed answer: only Function URLs and REST APIs invoke
    /// with `InvokeWithResponseStream`. HTTP APIs, ALBs and VPC Lattice always read a buffered
    /// answer, so they get one even when the function streams.
    pub fn can_stream(self) -> bool {
        matches!(self, Source::FunctionUrl | Source::RestApi)
    }
}
