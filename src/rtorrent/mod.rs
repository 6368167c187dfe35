//! rtorrent over XML-RPC: placeholder while the module is assembled.
pub mod xmlrpc;
