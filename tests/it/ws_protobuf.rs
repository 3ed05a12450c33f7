//! The Protobuf variant end to end: selecting it, batches, ping/pong,
//! publications crossing between JSON, Protobuf and REST, recovery, the
//! reject-unrecovered flag and refused subscribe options on both variants.

use bytes::Bytes;
use serde_json::{json, Value};
use tandem::protocol::protobuf::wire;

use crate::helpers::{session_channel, spawn_app, TestApp, WsClient};
use crate::pb_client::{data_of, PbClient, Select};

/// Alice (JSON) owns a new session shared with bob and carol.
async fn session(app: &TestApp) -> (WsClient, String, String) {
    let mut alice = app.connect("alice").await;
    let id = alice
        .create_session("protobuf", &[("bob", "editor"), ("carol", "editor")])
        .await;
    let channel = session_channel(&id);
    (alice, id, channel)
}

fn content(data: &Value) -> &str {
    data["data"]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("not a chat.message: {data}"))
}

#[tokio::test]
async fn each_way_of_asking_selects_protobuf() {
    let app = spawn_app(&[]).await;
    for select in [Select::Subprotocol, Select::Format, Select::CfProtocol] {
        let mut pb = PbClient::open(app.addr, select).await;
        let reply = pb.connect(&app.token("alice")).await;
        let connect = reply
            .connect
            .unwrap_or_else(|| panic!("{select:?}: no connect result: {:?}", reply.error));
        assert!(!connect.client.is_empty(), "{select:?}");
        assert_eq!(
            (connect.ping, connect.pong, connect.expires),
            (25, true, true)
        );
        assert!(connect.ttl > 0);
        let expected =
            matches!(select, Select::Subprotocol).then(|| "centrifuge-protobuf".to_owned());
        assert_eq!(pb.subprotocol, expected, "{select:?}");
    }
}

#[tokio::test]
async fn a_frame_of_several_commands_is_answered_in_order() {
    let app = spawn_app(&[]).await;
    let mut pb = PbClient::open(app.addr, Select::Subprotocol).await;
    pb.send_commands(&[
        wire::Command {
            id: 1,
            connect: Some(wire::ConnectRequest {
                token: app.token("alice"),
                ..Default::default()
            }),
            ..Default::default()
        },
        wire::Command {
            id: 2,
            rpc: Some(wire::RpcRequest {
                method: "session.create".into(),
                data: Bytes::from_static(br#"{"name":"batch"}"#),
            }),
            ..Default::default()
        },
        wire::Command {
            id: 3,
            ping: Some(wire::PingRequest {}),
            ..Default::default()
        },
    ])
    .await;
    let first = pb.recv_matching("any reply", |r| r.id != 0).await;
    assert_eq!(first.id, 1);
    assert!(first.connect.is_some(), "{first:?}");
    let second = pb.recv_matching("any reply", |r| r.id != 0).await;
    assert_eq!(second.id, 2);
    let session: Value = serde_json::from_slice(&second.rpc.expect("rpc result").data).unwrap();
    assert_eq!(session["name"], "batch", "{session}");
    let third = pb.recv_matching("any reply", |r| r.id != 0).await;
    assert_eq!((third.id, third.error.map(|e| e.code)), (3, Some(108)));
}

#[tokio::test]
async fn pings_are_one_zero_byte_and_answered_pongs_keep_the_connection() {
    let app = spawn_app(&["--ping-interval", "1s", "--pong-timeout", "500ms"]).await;
    let mut pb = PbClient::connect_as(&app, "alice").await;
    for _ in 0..3 {
        pb.recv_ping().await;
        pb.send_frame(vec![0x00]).await;
    }
    // A fourth ping proves the connection survived the third pong timeout.
    pb.recv_ping().await;
    let mut silent = PbClient::connect_as(&app, "bob").await;
    silent.recv_ping().await;
    assert_eq!(silent.expect_close().await.0, 3012);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_protobuf_and_rest_writers_are_seen_by_all_in_the_same_order() {
    let app = spawn_app(&[]).await;
    let (mut alice, id, channel) = session(&app).await;
    let mut bob = PbClient::connect_as(&app, "bob").await;
    alice.subscribe_ok(&channel, json!({})).await;
    bob.subscribe_ok(&channel).await;
    let carol = app.rest("carol");
    for round in 0..3 {
        alice.chat(&id, &format!("json {round}")).await;
        bob.rpc(
            "chat.send",
            &json!({"session_id": id, "content": format!("protobuf {round}")}),
        )
        .await
        .expect("chat.send over Protobuf");
        let (status, body) = carol
            .send(
                reqwest::Method::POST,
                &format!("/api/sessions/{id}/messages"),
                Some(json!({"content": format!("rest {round}")})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut seen_json = Vec::new();
    let mut seen_pb = Vec::new();
    for _ in 0..9 {
        let p = alice.expect_push(&channel, "pub").await;
        seen_json.push((p["offset"].as_u64().unwrap(), p["data"].clone()));
        let p = bob.expect_pub(&channel).await;
        seen_pb.push((p.offset, data_of(&p)));
    }
    assert_eq!(seen_json, seen_pb, "the same events, offsets and order");
    let contents: Vec<&str> = seen_pb.iter().map(|(_, d)| content(d)).collect();
    assert_eq!(
        contents,
        [
            "json 0",
            "protobuf 0",
            "rest 0",
            "json 1",
            "protobuf 1",
            "rest 1",
            "json 2",
            "protobuf 2",
            "rest 2"
        ]
    );
    let offsets: Vec<u64> = seen_pb.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (2..=10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protobuf_client_recovers_what_it_missed() {
    let app = spawn_app(&[]).await;
    let (mut alice, id, channel) = session(&app).await;
    let mut bob = PbClient::connect_as(&app, "bob").await;
    let sub = bob.subscribe_ok(&channel).await;
    assert!(sub.recoverable && sub.positioned, "{sub:?}");
    alice.chat(&id, "1").await;
    let last = bob.expect_pub(&channel).await.offset;
    drop(bob);
    for n in 2..=4 {
        alice.chat(&id, &n.to_string()).await;
    }
    let mut bob = PbClient::connect_as(&app, "bob").await;
    let reply = bob
        .subscribe(wire::SubscribeRequest {
            channel: channel.clone(),
            recover: true,
            offset: last,
            epoch: sub.epoch.clone(),
            flag: 3,
            ..Default::default()
        })
        .await;
    let sub = reply.subscribe.expect("subscribe result");
    assert!(sub.recovered && sub.was_recovering, "{sub:?}");
    let recovered: Vec<(u64, String)> = sub
        .publications
        .iter()
        .map(|p| (p.offset, content(&data_of(p)).to_owned()))
        .collect();
    assert_eq!(
        recovered,
        [
            (last + 1, "2".into()),
            (last + 2, "3".into()),
            (last + 3, "4".into())
        ]
    );
    alice.chat(&id, "5").await;
    assert_eq!(bob.expect_pub(&channel).await.offset, last + 4);
}

#[tokio::test]
async fn reject_unrecovered_gives_112_on_both_variants() {
    let app = spawn_app(&[]).await;
    let (mut alice, _id, channel) = session(&app).await;
    let top = alice.subscribe_ok(&channel, json!({})).await;
    let epoch = top["epoch"].as_str().unwrap().to_owned();
    let offset = top["offset"].as_u64().unwrap();
    alice
        .call_ok("unsubscribe", json!({"channel": channel}))
        .await;

    // JSON: a lost epoch with the bit set is 112; without it recovered:false.
    let bad = json!({"recover": true, "offset": 1, "epoch": "gone", "flag": 3});
    let reply = alice.subscribe(&channel, bad).await;
    assert_eq!(reply["error"]["code"], 112, "{reply}");
    let soft = json!({"recover": true, "offset": 1, "epoch": "gone", "flag": 1});
    let sub = alice.subscribe_ok(&channel, soft).await;
    assert_eq!(
        (sub["was_recovering"].as_bool(), sub.get("recovered")),
        (Some(true), None)
    );
    alice
        .call_ok("unsubscribe", json!({"channel": channel}))
        .await;
    // A good position with the bit set recovers as usual.
    let good = json!({"recover": true, "offset": offset, "epoch": epoch, "flag": 3});
    let sub = alice.subscribe_ok(&channel, good).await;
    assert_eq!(sub["recovered"], true, "{sub}");

    // Protobuf: the same three cases.
    let mut bob = PbClient::connect_as(&app, "bob").await;
    let request = |epoch: &str, offset: u64, flag: i64| wire::SubscribeRequest {
        channel: channel.clone(),
        recover: true,
        offset,
        epoch: epoch.into(),
        flag,
        ..Default::default()
    };
    let reply = bob.subscribe(request("gone", 1, 3)).await;
    assert_eq!(reply.error.map(|e| e.code), Some(112));
    let reply = bob.subscribe(request("gone", 1, 1)).await;
    let sub = reply.subscribe.expect("recovered:false result");
    assert!(sub.was_recovering && !sub.recovered, "{sub:?}");
    bob.call(wire::Command {
        unsubscribe: Some(wire::UnsubscribeRequest {
            channel: channel.clone(),
        }),
        ..Default::default()
    })
    .await;
    let reply = bob.subscribe(request(&epoch, offset, 3)).await;
    assert!(reply.subscribe.expect("recovered").recovered);
}

#[tokio::test]
async fn unimplemented_subscribe_options_are_refused_on_both_variants() {
    let app = spawn_app(&[]).await;
    let (mut alice, _id, channel) = session(&app).await;
    let cases = [
        (json!({"delta": "fossil"}), 107),
        (
            json!({"tf": {"op": "", "key": "k", "cmp": "eq", "val": "v"}}),
            107,
        ),
        (json!({"type": 1}), 108),
        (json!({"cursor": "c"}), 107),
        (json!({"flag": 4}), 107),
        (json!({"token": "a.b.c"}), 107),
        (json!({"data": {"x": 1}}), 107),
    ];
    for (extra, code) in &cases {
        let reply = alice.subscribe(&channel, extra.clone()).await;
        assert_eq!(reply["error"]["code"], *code, "{extra}: {reply}");
    }
    alice.subscribe_ok(&channel, json!({"flag": 1})).await;

    let mut bob = PbClient::connect_as(&app, "bob").await;
    let base = || wire::SubscribeRequest {
        channel: channel.clone(),
        ..Default::default()
    };
    let cases = [
        (
            wire::SubscribeRequest {
                delta: "fossil".into(),
                ..base()
            },
            107,
        ),
        (
            wire::SubscribeRequest {
                tf: Some(wire::FilterNode::default()),
                ..base()
            },
            107,
        ),
        (
            wire::SubscribeRequest {
                r#type: 1,
                ..base()
            },
            108,
        ),
        (
            wire::SubscribeRequest {
                cursor: "c".into(),
                ..base()
            },
            107,
        ),
        (wire::SubscribeRequest { flag: 4, ..base() }, 107),
        (
            wire::SubscribeRequest {
                token: "a.b.c".into(),
                ..base()
            },
            107,
        ),
        (
            wire::SubscribeRequest {
                data: Bytes::from_static(b"{}"),
                ..base()
            },
            107,
        ),
    ];
    for (request, code) in cases {
        let what = format!("{request:?}");
        let reply = bob.subscribe(request).await;
        assert_eq!(reply.error.map(|e| e.code), Some(code), "{what}");
    }
    // Refusals leave the connection and the channel usable.
    bob.subscribe_ok(&channel).await;
}

#[tokio::test]
async fn history_presence_refresh_and_the_rest_over_protobuf() {
    let app = spawn_app(&[]).await;
    let (mut alice, id, channel) = session(&app).await;
    alice.chat(&id, "one").await;
    let mut bob = PbClient::connect_as(&app, "bob").await;
    bob.subscribe_ok(&channel).await;

    let history = bob
        .call(wire::Command {
            history: Some(wire::HistoryRequest {
                channel: channel.clone(),
                limit: 10,
                since: Some(wire::StreamPosition {
                    offset: 1,
                    epoch: String::new(),
                }),
                reverse: false,
            }),
            ..Default::default()
        })
        .await
        .history
        .expect("history result");
    assert_eq!(history.offset, 2);
    assert_eq!(history.publications.len(), 1);
    assert_eq!(content(&data_of(&history.publications[0])), "one");

    let presence = bob
        .call(wire::Command {
            presence: Some(wire::PresenceRequest {
                channel: channel.clone(),
            }),
            ..Default::default()
        })
        .await
        .presence
        .expect("presence result");
    let me = presence
        .presence
        .get(&bob.client_id)
        .expect("bob is present");
    assert_eq!(me.user, "bob");
    let stats = bob
        .call(wire::Command {
            presence_stats: Some(wire::PresenceStatsRequest {
                channel: channel.clone(),
            }),
            ..Default::default()
        })
        .await
        .presence_stats
        .expect("presence_stats result");
    assert_eq!((stats.num_clients, stats.num_users), (1, 1));

    let refresh = bob
        .call(wire::Command {
            refresh: Some(wire::RefreshRequest {
                token: app.token("bob"),
            }),
            ..Default::default()
        })
        .await
        .refresh
        .expect("refresh result");
    assert!(refresh.expires && refresh.ttl > 0);
    assert_eq!(refresh.client, bob.client_id);

    let refused = bob
        .call(wire::Command {
            sub_refresh: Some(wire::SubRefreshRequest {
                channel: channel.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(refused.error.map(|e| e.code), Some(108));
    let err = bob
        .rpc("no.such.method", &json!({}))
        .await
        .expect_err("unknown method");
    assert_eq!(err.code, 104);

    let unsubscribed = bob
        .call(wire::Command {
            unsubscribe: Some(wire::UnsubscribeRequest {
                channel: channel.clone(),
            }),
            ..Default::default()
        })
        .await;
    assert!(unsubscribed.unsubscribe.is_some(), "{unsubscribed:?}");
}
