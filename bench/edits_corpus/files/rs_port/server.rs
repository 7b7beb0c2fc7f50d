use std::net::SocketAddr;

/// Where the server listens unless told otherwise.
pub const DEFAULT_PORT: u16 = 8080;

pub struct Config {
    pub host: String,
    pub port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".to_string(),
            port: DEFAULT_PORT,
        }
    }
}

impl Config {
    pub fn addr(&self) -> SocketAddr {
        format!("{}:{}", self.host, self.port).parse().unwrap()
    }
}
