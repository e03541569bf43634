//! Server functions shared by the pages (bodies run on the server only).
