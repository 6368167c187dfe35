//! XML-RPC as rtorrent speaks it (xmlrpc-c): values, the encoder for method
//! calls, and a streaming decoder for method responses.

pub mod decode;
pub mod encode;
pub mod value;

pub use decode::{decode_response, DecodeError, Response};
pub use encode::method_call;
pub use value::Value;

#[cfg(test)]
mod tests;
