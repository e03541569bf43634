//! Browser-only: YouTube IFrame API bindings and the WebSocket sync runtime.
