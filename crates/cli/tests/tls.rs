//! HTTPS: the service serves TLS (rustls) with its own certificate; a client
//! trusts it only through the public roots or NUBO_CA_FILE; without a
//! certificate the service refuses to listen beyond loopback.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (make deps)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private certificate authority and a certificate it signed for
/// localhost and 127.0.0.1, as a self-hoster would make them with openssl.
/// Returns (CA, certificate, key) paths.
fn certificates(dir: &Path) -> (String, String, String) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=Test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ];
    ca.extend(ec);
    openssl(&ca, dir);
    let mut csr = vec![
        "req",
        "-new",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
    ];
    csr.extend(ec);
    openssl(&csr, dir);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
        dir,
    );
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    (p("ca.pem"), p("cert.pem"), p("key.pem"))
}

#[test]
fn a_client_syncs_over_https_and_refuses_a_certificate_it_does_not_trust() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(tmp.path());
    let service = Service::start_with(&["--demo", "--tls-cert", &cert, "--tls-key", &key]);
    assert!(service.url.starts_with("https://"), "{}", service.url);

    // Untrusted: the sign-in says so, and nothing is kept.
    let c = Client::blank("pc-a");
    let out = c.run_with_stdin(
        &["login", &service.url, "demo", "--password-stdin"],
        "nubo-demo\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");

    // Trusted through NUBO_CA_FILE: a whole sync over TLS.
    std::env::set_var("NUBO_CA_FILE", &ca);
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    a.write("secret.txt", "only over TLS");
    a.sync();
    b.sync();
    assert_eq!(b.read("secret.txt").unwrap(), b"only over TLS");
}

#[test]
fn plain_http_is_refused_beyond_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    // Port 9 on the unspecified address: refused before anything binds.
    let out = Command::new(BIN)
        .args(["serve", "--data"])
        .arg(tmp.path())
        .args(["--listen", "0.0.0.0:9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve plain HTTP") && err.contains("--tls-cert"),
        "{err}"
    );
}
