//! docs/benchmarks.md from result lines: one table per scenario, each Tandem
//! figure next to its ratio to the floor measured in the same run.

use std::fmt::Write as _;

use super::{fmt_bytes, fmt_num, Outcome};
use crate::target::TargetKind;

/// What the report says about the run besides the results.
#[derive(Debug, Default)]
pub struct Machine {
    /// The machine (Markdown).
    pub description: String,
    /// The commands that were run (Markdown).
    pub commands: String,
}

/// The whole document.
pub fn markdown(results: &str, machine: &Machine) -> anyhow::Result<String> {
    let outcomes: Vec<Outcome> = results
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(
        "Written by `bench/run.sh` (do not edit by hand; run it again). Every figure comes from one run of the \
         script: the load generator (`tandem-bench`, one thread) pinned to one core, the server pinned to \
         the other, everything on 127.0.0.x. Each Tandem figure is followed by its ratio to the floor \
         (`bench-floor`: axum + tokio-tungstenite, one pre-serialised frame per broadcast, no protocol, \
         auth or history) measured in the same run. Latencies are end to end (publisher timestamp → \
         subscriber) and measured from the intended send time (no coordinated omission); acknowledgement \
         latencies from the intended send time to the reply. See `bench/README.md` for the tool, and \
         `docs/performance.md` for what was changed for speed (before/after figures) and what the \
         profiles show where a target is missed.\n\n",
    );
    md.push_str(
        "Reading the figures: the generator paces publishers with tokio's 1 ms timer, so a message may \
         leave up to about 1 ms after its intended time, and that is inside every latency (it is most of the \
         floor's acknowledgement latency). The generator's own CPU is in the step tables: near 100 % it, \
         not the server, was the limit. After a failing step, deliveries still on their way when the run \
         stopped count as lost in `lost_final`; the per-step `lost` is what had not arrived by the end of \
         the step's drain.\n\n",
    );
    if !machine.description.trim().is_empty() {
        md.push_str("## Machine\n\n");
        md.push_str(machine.description.trim_end());
        md.push_str("\n\n");
    }
    targets(&mut md, &outcomes);
    fanout(&mut md, &outcomes);
    many(&mut md, &outcomes);
    idle(&mut md, &outcomes);
    storm(&mut md, &outcomes);
    acks(&mut md, &outcomes);
    codecs(&mut md, &outcomes);
    sweep(&mut md, &outcomes);
    errors(&mut md, &outcomes);
    if !machine.commands.trim().is_empty() {
        md.push_str("## Commands\n\n");
        md.push_str(machine.commands.trim_end());
        md.push('\n');
    }
    Ok(md)
}

fn of<'a>(outcomes: &'a [Outcome], scenario: &str) -> Vec<&'a Outcome> {
    outcomes.iter().filter(|o| o.scenario == scenario).collect()
}

fn floor_of<'a>(list: &[&'a Outcome], same: impl Fn(&Outcome) -> bool) -> Option<&'a Outcome> {
    list.iter()
        .copied()
        .find(|o| o.target == TargetKind::Floor && same(o))
}

/// The outcomes of `scenario` (none: `None`), its floor run and its first run.
fn section<'a>(
    outcomes: &'a [Outcome],
    scenario: &str,
) -> Option<(Vec<&'a Outcome>, Option<&'a Outcome>, &'a Outcome)> {
    let list = of(outcomes, scenario);
    let first = *list.first()?;
    let floor = floor_of(&list, |_| true);
    Some((list, floor, first))
}

fn fig(o: &Outcome, key: &str) -> f64 {
    o.figures.get(key).copied().unwrap_or(f64::NAN)
}

/// `value (ratio×)` against the floor's figure, for Tandem rows.
fn with_ratio(
    o: &Outcome,
    floor: Option<&Outcome>,
    key: &str,
    show: impl Fn(f64) -> String,
) -> String {
    let v = fig(o, key);
    let shown = show(v);
    match floor {
        Some(f) if o.target == TargetKind::Tandem => {
            let base = fig(f, key);
            if base.is_finite() && base != 0.0 && v.is_finite() {
                format!("{shown} ({:.2}×)", v / base)
            } else {
                shown
            }
        }
        _ => shown,
    }
}

fn ms(v: f64) -> String {
    if v.is_finite() {
        format!("{} ms", fmt_num(v))
    } else {
        "-".into()
    }
}

fn n(v: f64) -> String {
    fmt_num(v)
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.0}%")
    } else {
        "-".into()
    }
}

fn setting(o: &Outcome, path: &[&str]) -> String {
    let mut v = &o.settings;
    for p in path {
        v = &v[*p];
    }
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The outcome of `scenario` whose label starts with `label` (a Tandem run),
/// with a matching `extra` condition.
fn find<'a>(
    outcomes: &'a [Outcome],
    scenario: &str,
    label: &str,
    extra: impl Fn(&Outcome) -> bool,
) -> Option<&'a Outcome> {
    outcomes.iter().find(|o| {
        o.scenario == scenario
            && o.target == TargetKind::Tandem
            && o.label.starts_with(label)
            && extra(o)
    })
}

/// Issue 13's targets, each checked against this run.
fn targets(md: &mut String, outcomes: &[Outcome]) {
    let mut rows: Vec<(String, String, Option<bool>)> = Vec::new();
    let fan = of(outcomes, "fanout");
    let fan_floor = floor_of(&fan, |_| true).map(|f| fig(f, "max_passing_rate"));
    for (engine, want) in [("memory", 0.7), ("redis", 0.5)] {
        if let (Some(o), Some(base)) = (find(outcomes, "fanout", engine, |_| true), fan_floor) {
            let what = format!("fan-out max passing rate, {engine} ≥ {want}× the floor's");
            let rate = fig(o, "max_passing_rate");
            if base > 0.0 {
                let ratio = rate / base;
                rows.push((
                    what,
                    format!("{:.2}× ({} vs {} /s)", ratio, n(rate), n(base)),
                    Some(ratio >= want),
                ));
            } else {
                rows.push((
                    what,
                    format!(
                        "no ratio: the floor passed no rate ({engine}: {} /s)",
                        n(rate)
                    ),
                    None,
                ));
            }
        }
    }
    let idles = of(outcomes, "idle");
    let subscribed = |o: &Outcome| o.settings["subscribe"].as_bool().unwrap_or(true);
    if let (Some(o), Some(f)) = (
        find(outcomes, "idle", "memory", subscribed),
        floor_of(&idles, subscribed),
    ) {
        let ratio = fig(o, "rss_per_connection_bytes") / fig(f, "rss_per_connection_bytes");
        rows.push((
            "idle connection ≤ 1.5× the floor's RSS per connection (memory, subscribed)".into(),
            format!(
                "{ratio:.2}× ({} vs {})",
                fmt_bytes(fig(o, "rss_per_connection_bytes")),
                fmt_bytes(fig(f, "rss_per_connection_bytes"))
            ),
            Some(ratio <= 1.5),
        ));
    }
    for engine in ["memory", "redis"] {
        if let Some(o) = find(outcomes, "storm", engine, |_| true) {
            let secs = fig(o, "recovery_s");
            let ok = secs.is_finite()
                && secs <= 10.0
                && fig(o, "lost") == 0.0
                && fig(o, "duplicates") == 0.0
                && fig(o, "recover_failed") == 0.0;
            rows.push((
                format!("reconnect storm on {engine}: all {} recovered within 10 s, 0 lost, 0 duplicated", n(fig(o, "clients"))),
                format!(
                    "{} recovered{} in {}; lost {}, duplicated {}",
                    n(fig(o, "recovered")),
                    if fig(o, "recover_failed") > 0.0 { format!(" ({} not)", n(fig(o, "recover_failed"))) } else { String::new() },
                    if secs.is_finite() { format!("{secs:.2} s") } else { "—".into() },
                    n(fig(o, "lost")),
                    n(fig(o, "duplicates"))
                ),
                Some(ok),
            ));
        }
    }
    let ws = |o: &Outcome| o.settings["publish"]["publisher"] == "ws-rpc";
    if let Some(o) = find(outcomes, "acks", "redis", ws) {
        let p99 = fig(o, "ack_p99_ms");
        rows.push((
            format!(
                "Redis acknowledged write p99 ≤ 5 ms at {}/s (`chat.send`)",
                n(fig(o, "sent_per_s").round())
            ),
            ms(p99),
            Some(p99 <= 5.0),
        ));
    }
    if let Some(o) = find(outcomes, "sweep", "redis", |_| true) {
        let per = fig(o, "ms_per_due_session");
        rows.push((
            "sweep on Redis ≥ 10× faster than 0.6 ms per due session (≤ 0.06 ms)".into(),
            format!("{} per due session", ms(per)),
            Some(per <= 0.06),
        ));
    }
    rows.push((
        "slow-consumer queue bounded in bytes (Centrifugo: 1 MB)".into(),
        "a property of the code, not measured here".into(),
        None,
    ));
    if rows.len() <= 1 {
        return;
    }
    md.push_str(
        "## Targets (issue 13)

| target | this run | met |
|---|---|---|
",
    );
    for (what, got, met) in rows {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(md, "| {what} | {got} | {met} |");
    }
    md.push('\n');
}

fn fanout(md: &mut String, outcomes: &[Outcome]) {
    let Some((list, floor, first)) = section(outcomes, "fanout") else {
        return;
    };
    let _ = writeln!(
        md,
        "## Fan-out: 1 session × {} subscribers, 1 publisher\n\n\
         The publish rate rises step by step ({} s each, publisher `{}`, {}-byte messages); a step passes with \
         no loss, no duplicate, no publish error, the publisher on schedule, no connection closed by the server \
         and p99 < {} ms. Ratios are to the floor's figure.\n",
        setting(first, &["load", "per_session"]),
        setting(first, &["load", "duration"]),
        setting(first, &["load", "publish", "publisher"]),
        setting(first, &["load", "publish", "payload"]),
        setting(first, &["p99_limit_ms"]),
    );
    md.push_str("| server | max passing rate (/s) | deliveries/s at that rate | server CPU there | latency at 200/s p50 / p99 | first failing rate: deliveries/s, p99 |\n|---|---|---|---|---|---|\n");
    for o in &list {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} / {} | {} |",
            o.label,
            with_ratio(o, floor, "max_passing_rate", n),
            with_ratio(o, floor, "deliveries_per_s_at_max", n),
            pct(fig(o, "server_cpu_at_max")),
            ms(fig(o, "latency_at_p50_ms")),
            with_ratio(o, floor, "latency_at_p99_ms", ms),
            if fig(o, "first_failing_rate").is_finite() {
                format!(
                    "{}/s: {}/s, p99 {}",
                    n(fig(o, "first_failing_rate")),
                    n(fig(o, "deliveries_per_s_at_fail")),
                    ms(fig(o, "p99_ms_at_fail"))
                )
            } else {
                "none failed".into()
            }
        );
    }
    md.push_str("\nEvery step:\n\n| server | rate | sent/s | deliveries/s | lost | dup | p50 | p99 | max | ack p99 | server CPU | generator CPU | pass |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for o in &list {
        for s in &o.steps {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                o.label,
                s.name,
                n(s.sent_per_s),
                n(s.deliveries_per_s),
                s.lost,
                s.counters.duplicates,
                ms(s.latency.p50_ms),
                ms(s.latency.p99_ms),
                ms(s.latency.max_ms),
                ms(s.acks.p99_ms),
                pct(s.usage.server.map_or(f64::NAN, |u| u.cpu_percent)),
                pct(s.usage.generator.map_or(f64::NAN, |u| u.cpu_percent)),
                match s.pass {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                }
            );
        }
    }
    md.push('\n');
}

fn many(md: &mut String, outcomes: &[Outcome]) {
    let Some((list, floor, first)) = section(outcomes, "many") else {
        return;
    };
    let _ = writeln!(
        md,
        "## Many sessions: {} sessions × {} connections, one publisher each at {}/s\n\n\
         One connection of each session publishes (`{}`) for {} s; every connection is subscribed.\n",
        setting(first, &["sessions"]),
        setting(first, &["per_session"]),
        setting(first, &["rate"]),
        setting(first, &["publish", "publisher"]),
        setting(first, &["duration"]),
    );
    md.push_str("| server | connections | published/s | deliveries/s | lost | dup | latency p50 | latency p99 | ack p99 | server CPU |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for o in &list {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            o.label,
            n(fig(o, "connections")),
            with_ratio(o, floor, "sent_per_s", n),
            with_ratio(o, floor, "deliveries_per_s", n),
            n(fig(o, "lost_final")),
            n(fig(o, "duplicates")),
            with_ratio(o, floor, "latency_p50_ms", ms),
            with_ratio(o, floor, "latency_p99_ms", ms),
            ms(fig(o, "ack_p99_ms")),
            with_ratio(o, floor, "server_cpu_percent", pct),
        );
    }
    md.push('\n');
}

fn idle(md: &mut String, outcomes: &[Outcome]) {
    let list = of(outcomes, "idle");
    if list.is_empty() {
        return;
    }
    md.push_str(
        "## Idle connections: server memory per connection\n\n\
         RSS of the server with every connection open and idle, minus its RSS before they connected, divided \
         by the connections. \"subscribed\": each connection is authenticated and subscribed to one session \
         (floor: has joined a room), sessions of 10; \"connected only\": Tandem connections that sent `connect` \
         but no `subscribe` (floor: sockets that joined no room). The process open-file limit here is 20,000, \
         which bounds the count. Ratios are to the floor row with the same subscription.\n\n",
    );
    md.push_str("| server | connections | subscribed | RSS per connection | RSS with all connected | RSS after they left | server CPU while idle | connect p99 |\n|---|---|---|---|---|---|---|---|\n");
    for o in &list {
        let subscribed = o.settings["subscribe"].as_bool().unwrap_or(true);
        let floor = floor_of(&list, |f| {
            f.settings["subscribe"].as_bool().unwrap_or(true) == subscribed
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            o.label,
            n(fig(o, "connections")),
            if subscribed {
                "subscribed"
            } else {
                "connected only"
            },
            with_ratio(o, floor, "rss_per_connection_bytes", fmt_bytes),
            fmt_bytes(fig(o, "rss_connected_bytes")),
            fmt_bytes(fig(o, "rss_after_close_bytes")),
            pct(fig(o, "server_cpu_percent")),
            ms(fig(o, "connect_p99_ms")),
        );
    }
    md.push('\n');
}

fn storm(md: &mut String, outcomes: &[Outcome]) {
    let Some((list, floor, first)) = section(outcomes, "storm") else {
        return;
    };
    let _ = writeln!(
        md,
        "## Reconnect storm: {} sessions × {} subscribers drop at once\n\n\
         Publishing goes on ({}/s per session, `{}`); {} s after it starts every subscriber's socket is dropped \
         without a close handshake and reconnects at once, resubscribing with `recover` from its last offset. \
         \"time to full recovery\" runs from the drop to the last `recovered: true` reply (floor: the last \
         reconnect; it has no history, so it cannot recover what was missed). Lost and duplicated count every \
         offset of the whole run for every subscriber.\n",
        setting(first, &["load", "sessions"]),
        setting(first, &["load", "per_session"]),
        setting(first, &["load", "rate"]),
        setting(first, &["load", "publish", "publisher"]),
        setting(first, &["drop_after"]),
    );
    md.push_str("| server | clients | recovered | not recovered | time to full recovery | reconnect p50 / p99 | recovered publications | lost | duplicates |\n|---|---|---|---|---|---|---|---|---|\n");
    for o in &list {
        let secs = |v: f64| {
            if v.is_finite() {
                format!("{v:.2} s")
            } else {
                "not all back".into()
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |",
            o.label,
            n(fig(o, "clients")),
            n(fig(o, "recovered")),
            n(fig(o, "recover_failed")),
            with_ratio(o, floor, "recovery_s", secs),
            ms(fig(o, "reconnect_p50_ms")),
            with_ratio(o, floor, "reconnect_p99_ms", ms),
            n(fig(o, "recovered_publications")),
            n(fig(o, "lost")),
            n(fig(o, "duplicates")),
        );
    }
    md.push('\n');
}

fn acks(md: &mut String, outcomes: &[Outcome]) {
    let Some((list, floor, first)) = section(outcomes, "acks") else {
        return;
    };
    let _ = writeln!(
        md,
        "## Acknowledged writes: `chat.send` at {}/s\n\n\
         {} sessions, one publisher each, no subscribers, {} s. Tandem acknowledges a write once it is stored \
         (Redis: after the Lua script ran). The floor row is `POST /rooms/…/publish` answered after the \
         broadcast: the HTTP stack's own cost, the reference for the ratios.\n",
        n(fig(first, "sent_per_s").round()),
        setting(first, &["sessions"]),
        setting(first, &["duration"]),
    );
    md.push_str("| server | publisher | writes/s | ack p50 | ack p90 | ack p99 | ack max | errors |\n|---|---|---|---|---|---|---|---|\n");
    for o in &list {
        let s = o.steps.first();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            o.label,
            setting(o, &["publish", "publisher"]),
            n(fig(o, "sent_per_s")),
            with_ratio(o, floor, "ack_p50_ms", ms),
            ms(s.map_or(f64::NAN, |s| s.acks.p90_ms)),
            with_ratio(o, floor, "ack_p99_ms", ms),
            ms(s.map_or(f64::NAN, |s| s.acks.max_ms)),
            s.map_or(0, |s| s.counters.publish_errors + s.counters.behind),
        );
    }
    md.push('\n');
}

/// `load` runs of the same load in both wire variants: bytes per delivery.
fn codecs(md: &mut String, outcomes: &[Outcome]) {
    let list = of(outcomes, "load");
    let Some(first) = list.first() else {
        return;
    };
    let _ = writeln!(
        md,
        "## Wire variants: JSON and Protobuf\n\n\
         The same load in both variants of the client protocol: {} sessions × {} connections, one of each \
         publishing `chat.send` at {}/s for {} s. Bytes per delivery is the publication message on the wire \
         (JSON: its line; Protobuf: the message with its length prefix). The payload (a `chat.message` \
         event) is JSON text in both, so what Protobuf saves is the envelope.\n",
        setting(first, &["sessions"]),
        setting(first, &["per_session"]),
        setting(first, &["rate"]),
        setting(first, &["duration"]),
    );
    md.push_str("| server | variant | deliveries/s | bytes per delivery | latency p50 | latency p99 | lost |\n|---|---|---|---|---|---|---|\n");
    for o in &list {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            o.label,
            match o.codec {
                crate::wire::Codec::Json => "JSON",
                crate::wire::Codec::Protobuf => "Protobuf",
            },
            n(fig(o, "deliveries_per_s")),
            n(fig(o, "bytes_per_delivery").round()),
            ms(fig(o, "latency_p50_ms")),
            ms(fig(o, "latency_p99_ms")),
            n(fig(o, "lost_final")),
        );
    }
    md.push('\n');
}

fn sweep(md: &mut String, outcomes: &[Outcome]) {
    let list = of(outcomes, "sweep");
    if list.is_empty() {
        return;
    }
    let first = list[0];
    let _ = writeln!(
        md,
        "## Sweep: {} sessions, {} due\n\n\
         The server runs with `TANDEM_ABANDON_AFTER={}s`; the due sessions are created first, the others {} s \
         later, so one sweep finds exactly the due ones among all. Durations are the server's own (`sweep` log \
         event, `duration_ms`). No floor: the floor has no sessions.\n",
        setting(first, &["sessions"]),
        setting(first, &["due"]),
        setting(first, &["abandon_after"]),
        setting(first, &["gap"]),
    );
    md.push_str("| engine | abandoned | sweeps | sweep time | per due session | sweep with nothing due | sessions created/s | server RSS per session |\n|---|---|---|---|---|---|---|---|\n");
    for o in &list {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            o.label,
            n(fig(o, "abandoned")),
            n(fig(o, "sweeps")),
            ms(fig(o, "sweep_ms")),
            ms(fig(o, "ms_per_due_session")),
            ms(fig(o, "empty_sweep_ms")),
            n(fig(o, "seeding_sessions_per_s")),
            fmt_bytes(fig(o, "rss_per_session_bytes")),
        );
    }
    md.push('\n');
}

fn errors(md: &mut String, outcomes: &[Outcome]) {
    let with: Vec<&Outcome> = outcomes.iter().filter(|o| !o.errors.is_empty()).collect();
    if with.is_empty() {
        return;
    }
    md.push_str("## Errors seen\n\nThe first distinct errors each run reported.\n\n");
    for o in with {
        let _ = writeln!(md, "- {} on {}:", o.scenario, o.label);
        for e in &o.errors {
            let _ = writeln!(md, "  - `{}`", e.replace('`', "'"));
        }
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn outcome(
        scenario: &str,
        label: &str,
        target: TargetKind,
        figures: &[(&str, f64)],
    ) -> Outcome {
        Outcome {
            scenario: scenario.into(),
            label: label.into(),
            target,
            codec: Default::default(),
            settings: serde_json::json!({"subscribe": true, "publish": {"publisher": "ws-rpc"}}),
            steps: Vec::new(),
            figures: figures
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn tandem_figures_carry_their_ratio_to_the_floor() {
        let lines = [
            outcome(
                "fanout",
                "floor",
                TargetKind::Floor,
                &[("max_passing_rate", 1000.0)],
            ),
            outcome(
                "fanout",
                "memory",
                TargetKind::Tandem,
                &[("max_passing_rate", 500.0)],
            ),
            outcome(
                "idle",
                "floor",
                TargetKind::Floor,
                &[("rss_per_connection_bytes", 7000.0)],
            ),
            outcome(
                "idle",
                "memory",
                TargetKind::Tandem,
                &[("rss_per_connection_bytes", 21000.0)],
            ),
            outcome(
                "acks",
                "redis",
                TargetKind::Tandem,
                &[("ack_p99_ms", 4.0), ("sent_per_s", 1000.0)],
            ),
        ]
        .iter()
        .map(Outcome::to_json_line)
        .collect::<Vec<_>>()
        .join("\n");
        let md = markdown(&lines, &Machine::default()).unwrap();
        assert!(md.contains("| memory | 500 (0.50×) |"), "{md}");
        assert!(md.contains("0.50× (500 vs 1000 /s) | **no**"), "{md}");
        assert!(md.contains("3.00×"), "{md}");
        assert!(
            md.contains(
                "| Redis acknowledged write p99 ≤ 5 ms at 1000/s (`chat.send`) | 4 ms | yes |"
            ),
            "{md}"
        );
        assert!(markdown("not json", &Machine::default()).is_err());
    }

    #[test]
    fn wire_variants_section_shows_bytes_per_delivery_for_both() {
        let mut json = outcome(
            "load",
            "memory",
            TargetKind::Tandem,
            &[("bytes_per_delivery", 545.2), ("deliveries_per_s", 100.0)],
        );
        json.codec = crate::wire::Codec::Json;
        let mut protobuf = outcome(
            "load",
            "memory",
            TargetKind::Tandem,
            &[("bytes_per_delivery", 509.4), ("deliveries_per_s", 100.0)],
        );
        protobuf.codec = crate::wire::Codec::Protobuf;
        let mut md = String::new();
        codecs(&mut md, &[json, protobuf]);
        assert!(md.contains("## Wire variants"), "{md}");
        assert!(md.contains("| memory | JSON | 100 | 545 |"), "{md}");
        assert!(md.contains("| memory | Protobuf | 100 | 509 |"), "{md}");
    }
}
