//! The Lambda floor for `make bench`: a bare lambda_runtime handler that returns a fixed API
//! Gateway response without parsing the event. Our cold start and warm latency are reported as
//! ratios to this.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "isBase64Encoded": false,
            "body": "{\"status\":\"ok\"}"
        }))
    }))
    .await
}
