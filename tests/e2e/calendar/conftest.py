import tests.calendar_env  # noqa: F401  (before any settings are read)
from tests.calendar_servers import feed_server, fresh_feed, radicale_server  # noqa: F401
