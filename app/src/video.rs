//! Parsing YouTube links and video ids (shared by server and browser).
