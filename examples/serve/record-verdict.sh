#!/bin/sh
# A remote runner without database credentials records its (signed) verdict file.
# 201 new, 200 already known; anything else fails the job.
set -eu
curl --fail-with-body --silent --show-error \
  --header "Authorization: Bearer ${DEPLOYABLE_SERVE_TOKEN}" \
  --header "Content-Type: application/json" \
  --data-binary @deploy-verdict.json \
  "${DEPLOYABLE_SERVE_URL:-http://127.0.0.1:8484}/v1/verdicts"
