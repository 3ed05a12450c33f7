//! Connecting, tokens, refresh, expiry, RPC, ping/pong and the connect timeout.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{b64url, now_secs, session_channel, spawn_app};

#[tokio::test]
async fn connect_reply_has_the_contracted_fields() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    let reply = ws.connect(&app.token("alice")).await;
    assert_eq!(reply["id"], 1, "{reply}");
    let c = &reply["connect"];
    let client = c["client"].as_str().expect("client id");
    assert!(
        uuid::Uuid::parse_str(client).is_ok(),
        "client is a UUID: {c}"
    );
    assert_eq!(c["version"], env!("CARGO_PKG_VERSION"), "{c}");
    assert_eq!(c["expires"], true, "{c}");
    let ttl = c["ttl"].as_u64().expect("ttl");
    assert!((3590..=3600).contains(&ttl), "ttl {ttl} for a 1h token");
    assert_eq!(c["ping"], 25, "default ping interval: {c}");
    assert_eq!(c["pong"], true, "{c}");
}

#[tokio::test]
async fn connect_and_subscribe_in_one_frame_are_handled_in_order() {
    let app = spawn_app(&[]).await;
    // The session exists before the batching connection arrives.
    let id = app
        .connect("alice")
        .await
        .create_session("batch", &[])
        .await;
    let mut ws = app.open().await;
    let token = app.token("alice");
    ws.send_raw(format!(
        "{}\n{}",
        json!({"id": 1, "connect": {"token": token, "name": "js"}}),
        json!({"id": 2, "subscribe": {"channel": session_channel(&id), "flag": 1}})
    ))
    .await;
    let first = ws.recv().await;
    assert_eq!(first["id"], 1, "connect reply first: {first}");
    assert!(first["connect"]["client"].is_string(), "{first}");
    let second = ws.recv().await;
    assert_eq!(second["id"], 2, "subscribe reply second: {second}");
    assert_eq!(second["subscribe"]["recoverable"], true, "{second}");
}

#[tokio::test]
async fn expired_token_gets_error_109_and_the_connection_stays_usable() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    let expired = app
        .minter()
        .mint_with_exp("alice", now_secs() - 600, None)
        .unwrap();
    let reply = ws.connect(&expired).await;
    assert_eq!(reply["error"]["code"], 109, "{reply}");
    // The SDK fetches a new token and connects again on the same socket.
    let reply = ws.connect(&app.token("alice")).await;
    assert!(reply["connect"]["client"].is_string(), "{reply}");
    let info = ws.call_ok("rpc", json!({"method": "server.info"})).await;
    assert_eq!(info["data"]["name"], "tandem");
}

#[tokio::test]
async fn alg_none_token_closes_3500() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = b64url(
        json!({"sub": "alice", "exp": now_secs() + 3600})
            .to_string()
            .as_bytes(),
    );
    ws.send_command("connect", json!({"token": format!("{header}.{claims}.")}))
        .await;
    assert_eq!(ws.expect_close().await.0, 3500);
    assert!(
        ws.buffered().is_empty(),
        "no reply before the close: {:?}",
        ws.buffered()
    );
}

#[tokio::test]
async fn token_signed_with_another_secret_closes_3500() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    let other = tandem::auth::TokenMinter::new(&tandem::auth::Secret::new(
        "some-other-secret-some-other-secret-0123",
    ))
    .mint("alice", Duration::from_secs(3600), None)
    .unwrap();
    ws.send_command("connect", json!({"token": other})).await;
    let (code, reason) = ws.expect_close().await;
    assert_eq!(code, 3500, "reason {reason:?}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&reason).is_err(),
        "reason is not JSON"
    );
}

#[tokio::test]
async fn token_without_sub_closes_3500() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    let token = app
        .minter()
        .mint_claims(&tandem::auth::Claims {
            sub: String::new(),
            exp: now_secs() + 3600,
            iat: None,
            nbf: None,
            iss: None,
            aud: None,
            info: None,
        })
        .unwrap();
    ws.send_command("connect", json!({"token": token})).await;
    assert_eq!(ws.expect_close().await.0, 3500);
}

#[tokio::test]
async fn refresh_returns_a_new_ttl() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    ws.connect(&app.mint("alice", Duration::from_secs(60)))
        .await;
    let result = ws
        .call_ok(
            "refresh",
            json!({"token": app.mint("alice", Duration::from_secs(7200))}),
        )
        .await;
    assert_eq!(result["expires"], true, "{result}");
    let ttl = result["ttl"].as_u64().expect("ttl");
    assert!(
        (7190..=7200).contains(&ttl),
        "ttl {ttl} after refresh: {result}"
    );
}

#[tokio::test]
async fn refresh_with_a_token_for_another_user_closes_3500() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send_command("refresh", json!({"token": app.token("mallory")}))
        .await;
    assert_eq!(ws.expect_close().await.0, 3500);
}

#[tokio::test]
async fn refresh_with_an_expired_token_closes_3005() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    let expired = app
        .minter()
        .mint_with_exp("alice", now_secs() - 600, None)
        .unwrap();
    ws.send_command("refresh", json!({"token": expired})).await;
    assert_eq!(ws.expect_close().await.0, 3005);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrefreshed_connection_is_closed_3005_when_its_token_expires() {
    let app = spawn_app(&["--expiry-grace", "0s", "--jwt-leeway", "0s"]).await;
    let mut ws = app.open().await;
    let token = app
        .minter()
        .mint_with_exp("alice", now_secs() + 2, None)
        .unwrap();
    let reply = ws.connect(&token).await;
    let ttl = reply["connect"]["ttl"].as_u64().expect("ttl");
    assert!((1..=2).contains(&ttl), "ttl {ttl}: {reply}");
    assert_eq!(ws.expect_close().await.0, 3005);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_keeps_an_expiring_connection_open() {
    let app = spawn_app(&[
        "--expiry-grace",
        "0s",
        "--jwt-leeway",
        "0s",
        "--ping-interval",
        "1s",
        "--pong-timeout",
        "500ms",
    ])
    .await;
    let mut ws = app.open().await;
    let token = app
        .minter()
        .mint_with_exp("alice", now_secs() + 2, None)
        .unwrap();
    ws.connect(&token).await;
    ws.call_ok("refresh", json!({"token": app.token("alice")}))
        .await;
    // Pings come every second: after three of them the first token is past.
    for _ in 0..3 {
        ws.pong_next_ping().await;
    }
    let info = ws.call_ok("rpc", json!({"method": "server.info"})).await;
    assert_eq!(info["data"]["name"], "tandem");
}

#[tokio::test]
async fn rpc_server_info_and_unknown_method() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    let result = ws.call_ok("rpc", json!({"method": "server.info"})).await;
    let data = &result["data"];
    assert_eq!(data["name"], "tandem", "{result}");
    assert_eq!(data["version"], env!("CARGO_PKG_VERSION"), "{result}");
    assert_eq!(data["engine"], "memory", "{result}");
    assert!(
        data["node"].as_str().is_some_and(|n| !n.is_empty()),
        "{result}"
    );
    assert_eq!(
        ws.call_err("rpc", json!({"method": "no.such.method"}))
            .await,
        104
    );
}

#[tokio::test]
async fn send_gets_no_reply() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send(json!({"send": {"data": {"method": "server.info"}}}))
        .await;
    let id = ws
        .send_command("rpc", json!({"method": "server.info"}))
        .await;
    // The next message must be the rpc reply: nothing answered the send.
    let next = ws.recv().await;
    assert_eq!(next["id"], id, "expected only the rpc reply, got {next}");
    assert!(next["rpc"]["data"].is_object(), "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_answering_pings_stays_connected() {
    let app = spawn_app(&["--ping-interval", "1s", "--pong-timeout", "500ms"]).await;
    let mut ws = app.open().await;
    let reply = ws.connect(&app.token("alice")).await;
    assert_eq!(reply["connect"]["ping"], 1, "{reply}");
    assert_eq!(reply["connect"]["pong"], true, "{reply}");
    for _ in 0..3 {
        ws.pong_next_ping().await;
    }
    // A fourth ping proves the connection survived the third pong timeout.
    ws.recv_ping().await;
    ws.send_raw("{}").await;
    let info = ws.call_ok("rpc", json!({"method": "server.info"})).await;
    assert_eq!(info["data"]["name"], "tandem");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ignoring_pings_is_closed_3012() {
    let app = spawn_app(&["--ping-interval", "1s", "--pong-timeout", "500ms"]).await;
    let mut ws = app.connect("alice").await;
    ws.recv_ping().await;
    let (code, reason) = ws.expect_close().await;
    assert_eq!(code, 3012, "reason {reason:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connect_within_the_timeout_closes_3502() {
    let app = spawn_app(&["--connect-timeout", "500ms"]).await;
    let mut ws = app.open().await;
    assert_eq!(ws.expect_close().await.0, 3502);
}

#[tokio::test]
async fn token_info_becomes_conn_info() {
    let app = spawn_app(&[]).await;
    let token = app
        .minter()
        .mint(
            "ann",
            Duration::from_secs(3600),
            Some(json!({"name": "Ann"})),
        )
        .unwrap();
    let mut ws = app.open().await;
    ws.connect(&token).await;
    let id = ws.create_session("info", &[]).await;
    let channel = session_channel(&id);
    let channel = channel.as_str();
    ws.subscribe_ok(channel, json!({})).await;
    // Session events carry the actor, not ClientInfo; join pushes do.
    let join = ws.expect_push(channel, "join").await;
    assert_eq!(join["info"]["conn_info"], json!({"name": "Ann"}), "{join}");
    assert_eq!(join["info"]["user"], "ann", "{join}");
    let presence = ws.call_ok("presence", json!({"channel": channel})).await;
    assert_eq!(
        presence["presence"][&ws.client_id]["conn_info"],
        json!({"name": "Ann"}),
        "{presence}"
    );
}

#[tokio::test]
async fn token_not_yet_valid_is_109() {
    let app = spawn_app(&[]).await;
    let token = app
        .minter()
        .mint_claims(&tandem::auth::Claims {
            sub: "alice".into(),
            exp: now_secs() + 7200,
            iat: None,
            nbf: Some(now_secs() + 3600),
            iss: None,
            aud: None,
            info: None,
        })
        .unwrap();
    let mut ws = app.open().await;
    let reply = ws.connect(&token).await;
    assert_eq!(reply["error"]["code"], 109, "{reply}");
}

async fn handshake(
    app: &crate::helpers::TestApp,
    header: &'static str,
    value: &str,
    query: &str,
) -> Result<tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Error;
    let url = format!("ws://{}/connection/websocket{query}", app.addr);
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(header, value.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => Ok(response.map(|_| None)),
        Err(Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("handshake failed oddly: {other}"),
    }
}

#[tokio::test]
async fn json_subprotocol_is_echoed() {
    let app = spawn_app(&[]).await;
    let response = handshake(&app, "sec-websocket-protocol", "centrifuge-json", "")
        .await
        .expect("upgrade");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "centrifuge-json"
    );
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let app = spawn_app(&[]).await;
    let refused = handshake(&app, "origin", "http://evil.example", "").await;
    assert_eq!(refused.err(), Some(403));
    // Unknown query parameters (old SDK demos) are ignored.
    handshake(&app, "x-unused", "1", "?cf_protocol_version=v2")
        .await
        .expect("upgrade");
}

#[tokio::test]
async fn failed_connect_ignores_the_rest_of_the_frame() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    let expired = app
        .minter()
        .mint_with_exp("alice", now_secs() - 600, None)
        .unwrap();
    ws.send_raw(format!(
        "{}\n{}",
        json!({"id": 1, "connect": {"token": expired}}),
        json!({"id": 2, "subscribe": {"channel": "session:x"}})
    ))
    .await;
    let first = ws.recv().await;
    assert_eq!(first["error"]["code"], 109, "{first}");
    // The subscribe was dropped, not treated as a command before connect (3501).
    let reply = ws
        .call("connect", json!({"token": app.token("alice")}))
        .await;
    assert!(reply["connect"]["client"].is_string(), "{reply}");
}

#[tokio::test]
async fn same_host_origin_is_accepted() {
    let app = spawn_app(&[]).await;
    let origin = format!("http://{}", app.addr);
    handshake(&app, "origin", &origin, "")
        .await
        .expect("upgrade");
}

#[tokio::test]
async fn client_initiated_close_is_echoed() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send_close(1000, "bye").await;
    assert_eq!(ws.expect_close().await.0, 1000);
}
