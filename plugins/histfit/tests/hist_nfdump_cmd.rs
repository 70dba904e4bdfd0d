//! `hist -i nfcapd` runs `nfdump -r FILE -q -o pipe` as flow-models does, and a failing nfdump
//! is an error naming the file. A stand-in `nfdump` (a shell script checking its arguments)
//! is put first on PATH — alone in this test binary, because PATH is process-wide.
mod common;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use serde_json::json;

/// nfcapd input runs `nfdump -r FILE -q -o pipe`: a stand-in `nfdump` on PATH (a script that
/// checks those arguments and prints pipe lines) shows the command and its parsing; a failing
/// nfdump is an error naming the file.
#[test]
fn nfcapd_runs_nfdump_as_flow_models() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = bin.join("nfdump");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = -r ] && [ \"$3\" = -q ] && [ \"$4\" = -o ] && [ \"$5\" = pipe ] || { echo bad args \"$@\" >&2; exit 2; }\ncase \"$2\" in *fail*) echo corrupt >&2; exit 255;; esac\nprintf '2|1425168000123|1425168001005|6|0|0|0|167772161|443|0|0|0|167772162|5555|0|0|1|2|24|0|10|5000\\n2|1425168000000|1425168000000|17|0|0|0|1|53|0|0|0|2|53|0|0|1|2|0|0|1|80\\n'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cap = dir.path().join("nfcapd.201503010000");
    std::fs::write(&cap, b"").unwrap();
    let fail = dir.path().join("fail.nfcapd");
    std::fs::write(&fail, b"").unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // PATH is process-wide: this test alone changes it, and only to put the stand-in first
    unsafe { std::env::set_var("PATH", &path) };
    let out = tempfile::tempdir().unwrap();
    let bytes = run_hist(json!({"inputs": [cap.to_str().unwrap()], "in_format": "nfcapd", "x": "duration", "columns": ["duration", "rate"]}), out.path()).unwrap();
    // duration (1425168001005 - 1425168000123) = 882 ms; rate 8000·5000/882
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        format!("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum,duration_sum,rate_sum\n0,1,1,1,80,0,0\n882,883,1,10,5000,882,{}\n", (8000.0f64 * 5000.0 / 882.0) as i64)
    );
    let e = run_hist(json!({"inputs": [fail.to_str().unwrap()], "in_format": "nfcapd"}), out.path()).map(|_| ()).unwrap_err();
    assert!(e.message.contains("fail.nfcapd") && e.message.contains("nfdump"), "{}", e.message);
}

fn run_hist(settings: serde_json::Value, out: &std::path::Path) -> Result<Vec<u8>, flowlab_abi::PluginError> {
    call(&HistFit, &common::request("hist", settings, None, out))?;
    Ok(std::fs::read(out.join("dataset.csv")).unwrap())
}
