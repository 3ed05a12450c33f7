//! Integration tests: a real server on an ephemeral port, driven by a
//! protocol-level client (see `helpers`); Redis tests use a `redis-server`
//! the harness starts itself (see `redis_harness`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_rest;
mod balancer;
mod deploy_files;
mod deploy_rolling;
mod deploy_topology;
mod engine_contract;
mod hardening;
mod helpers;
mod http_limits;
mod metrics;
mod patch_fuzz;
mod pb_client;
mod protobuf_fuzz;
mod redis_cluster;
mod redis_cluster_harness;
mod redis_durability;
mod redis_e2e;
mod redis_failure;
mod redis_harness;
mod rest_rpc_parity;
mod roaming;
mod server_api;
mod sessions_access;
mod sessions_convergence;
mod sessions_rpc;
mod sessions_signals;
mod sessions_status;
mod sessions_transfer;
mod sweeper;
mod ws_connect;
mod ws_errors;
mod ws_limits;
mod ws_presence;
mod ws_protobuf;
mod ws_protobuf_limits;
mod ws_pubsub;
mod ws_recovery;
mod ws_shutdown;
