"""Schemathesis hooks for scripts/contract-test.sh.

The tenant import takes NDJSON (one JSON record a line), which schemathesis has no serializer
for; its schema is a binary string, so it is sent as text.
"""

import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")
