//! Serving [`BatonMcp`]: over stdio (the agent starts `baton mcp` as a child and speaks
//! JSON-RPC lines on its stdin and stdout) or over streamable HTTP at `/mcp` in an axum
//! Router, loopback only by default, shut down by a [`CancellationToken`].

use std::net::SocketAddr;
use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::McpError;
use crate::server::BatonMcp;

/// The path the streamable HTTP endpoint is served at.
pub const HTTP_PATH: &str = "/mcp";

/// Serves one session over this process's stdin and stdout until the client closes stdin.
/// Nothing else may write to stdout meanwhile: logs go to stderr.
pub async fn serve_stdio(server: BatonMcp) -> Result<(), McpError> {
    tracing::info!(store = %server.project().store_path().display(), "serving MCP over stdio");
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| McpError::Initialize(Box::new(error)))?;
    let reason = running.waiting().await.map_err(McpError::Session)?;
    tracing::info!(?reason, "MCP stdio session ended");
    Ok(())
}

/// An axum Router serving streamable HTTP MCP at [`HTTP_PATH`], one server from `factory` per
/// session; `shutdown` ends every session. `local_addr` is added to the `Host` headers
/// accepted when it is not loopback (rmcp accepts only loopback hosts by default, against DNS
/// rebinding).
pub fn http_router<F>(
    factory: F,
    local_addr: SocketAddr,
    shutdown: CancellationToken,
) -> axum::Router
where
    F: Fn() -> BatonMcp + Send + Sync + 'static,
{
    let mut config = StreamableHttpServerConfig::default().with_cancellation_token(shutdown);
    if !local_addr.ip().is_loopback() {
        tracing::warn!(%local_addr, "MCP over HTTP on a non-loopback address: anyone who can reach it can use the tools");
        config.allowed_hosts.push(local_addr.ip().to_string());
        config.allowed_hosts.push(local_addr.to_string());
    }
    let service: StreamableHttpService<BatonMcp, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(factory()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new().nest_service(HTTP_PATH, service)
}

/// Binds `addr` and serves streamable HTTP MCP on it until `shutdown` is cancelled.
pub async fn serve_http<F>(
    factory: F,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> Result<(), McpError>
where
    F: Fn() -> BatonMcp + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| McpError::Bind { addr, source })?;
    serve_http_on(listener, factory, shutdown).await
}

/// Serves streamable HTTP MCP on an already bound listener (bind `127.0.0.1:0` to learn the
/// port first) until `shutdown` is cancelled, then drains open requests.
pub async fn serve_http_on<F>(
    listener: TcpListener,
    factory: F,
    shutdown: CancellationToken,
) -> Result<(), McpError>
where
    F: Fn() -> BatonMcp + Send + Sync + 'static,
{
    let addr = listener.local_addr().map_err(|source| McpError::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let router = http_router(factory, addr, shutdown.clone());
    tracing::info!(url = %format!("http://{addr}{HTTP_PATH}"), "serving MCP over streamable HTTP");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
        .await
        .map_err(|source| McpError::Serve { addr, source })?;
    tracing::info!(%addr, "MCP HTTP server stopped");
    Ok(())
}
