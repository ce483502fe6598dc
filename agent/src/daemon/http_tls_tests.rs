use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn generated(name: &str) -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

#[test]
fn pem_files_and_a_generated_certificate_make_an_acceptor() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = generated("node-a");
    let c = write(dir.path(), "tls.crt", &cert);
    let k = write(dir.path(), "tls.key", &key);
    assert!(acceptor(Some(&c), Some(&k)).is_ok());
    assert!(acceptor(None, None).is_ok());
    let names = SelfSigned {
        node_name: Some("ip-10-0-1-10.ec2.internal".into()),
        listen_ip: "10.0.1.10".parse().ok(),
    };
    assert!(acceptor_for(None, None, &names).is_ok());
}

#[test]
fn bad_files_are_named_with_their_flag_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = generated("node-a");
    let (_, other_key) = generated("node-b");
    let c = write(dir.path(), "tls.crt", &cert);
    let k = write(dir.path(), "tls.key", &key);
    let other = write(dir.path(), "other.key", &other_key);
    let junk = write(dir.path(), "junk", "not pem\n");
    let missing = dir.path().join("missing.crt");
    let err = |c: Option<&Path>, k: Option<&Path>| acceptor(c, k).err().unwrap().to_string();

    assert!(err(Some(&c), None).contains("give both, or neither"));
    assert!(err(None, Some(&k)).contains("give both, or neither"));
    let e = err(Some(&missing), Some(&k));
    assert!(
        e.contains("--tls-cert-file") && e.contains("missing.crt"),
        "{e}"
    );
    let e = err(Some(&junk), Some(&k));
    assert!(
        e.contains("--tls-cert-file") && e.contains("BEGIN CERTIFICATE"),
        "{e}"
    );
    let e = err(Some(&c), Some(&junk));
    assert!(
        e.contains("--tls-key-file") && e.contains("PRIVATE KEY"),
        "{e}"
    );
    let e = err(Some(&c), Some(&other));
    assert!(e.contains("does not belong to the certificate"), "{e}");
}
