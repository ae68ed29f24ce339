"""moto server with DynamoDB requests serialized.

moto's threaded server runs each request on its own thread without locking its DynamoDB
backend, so concurrent conditional writes and transactions can lose updates (seen here: 11
units sold from a stock of 10). Real DynamoDB serializes writes per item. This launcher runs
moto's own application and server, with one lock around DynamoDB requests only, so SQS long
polling and the other services stay concurrent.

Usage: python3 moto_server.py HOST PORT
"""

import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)

    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
