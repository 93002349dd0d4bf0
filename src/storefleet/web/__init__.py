"""HTTP plumbing around the API: security headers, the whole API's rate
limit, and how uvicorn serves it (trusted proxies, an access log without
secrets)."""

from storefleet.web.headers import SecurityHeaders
from storefleet.web.ratelimit import ApiRateLimit
from storefleet.web.server import server_options

__all__ = ["ApiRateLimit", "SecurityHeaders", "server_options"]
