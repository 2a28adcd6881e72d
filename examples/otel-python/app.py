"""An app instrumented with the official OpenTelemetry Python SDK, behind the sidecar
(tests/tracing.rs): it continues the trace of the `traceparent` it receives, as any
OpenTelemetry-instrumented framework does, and exports its server span by OTLP/HTTP to
OTEL_EXPORTER_OTLP_ENDPOINT (inherited from the sidecar's environment).

Run: heroku-applink-service-mesh -- python app.py   (it listens on $PORT, the sidecar's APP_PORT)
"""

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# Its own service name (the sidecar's environment names none); spans are sent as they end.
provider = TracerProvider(resource=Resource.create({"service.name": "python-app"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("otel-python-app")
propagator = TraceContextTextMapPropagator()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_one(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        carrier = {name.lower(): value for name, value in self.headers.items()}
        parent = propagator.extract(carrier)
        path = urlparse(self.path).path
        with tracer.start_as_current_span(
            f"{self.command} {path}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": self.command, "url.path": path},
        ) as span:
            body = b"hello from python"
            span.set_attribute("http.response.status_code", 200)
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    do_GET = handle_one
    do_POST = handle_one

    def log_message(self, format, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
