#!/bin/sh
# The launch function's handler under the Lambda Web Adapter layer. The function sets
#   AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap     (the adapter starts this script, then proxies)
#   AWS_LWA_INVOKE_MODE=response_stream        (so /build streams its server-sent events)
#   AWS_LWA_READINESS_CHECK_PATH=/health       (the adapter waits for the app to answer)
# and the adapter passes the port to listen on in PORT (8080 unless AWS_LWA_PORT says so).
# One worker: a Lambda execution environment serves one request at a time.
exec python -m uvicorn --factory app:create --host 127.0.0.1 --port "${PORT:-8080}" \
    --workers 1 --no-access-log --timeout-keep-alive 60
