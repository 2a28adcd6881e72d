//! AppLink add-on attachments: which variables make one, which are discovered beside the default, and the token never shown.

use super::*;

#[test]
fn missing_addon_names_the_variables_and_the_fix() {
    let err = load(&[("HEROKU_APPLINK_TOKEN", "")]).unwrap_err();
    assert!(
        err.0.contains("HEROKU_APPLINK_API_URL") && err.0.contains("HEROKU_APPLINK_TOKEN"),
        "{err}"
    );
    assert!(err.0.contains("--dev") && err.0.contains("add-on"), "{err}");
}

#[test]
fn renamed_attachment() {
    let config = load(&[
        ("HEROKU_APPLINK_API_URL", ""),
        ("HEROKU_APPLINK_TOKEN", ""),
        ("HEROKU_APPLINK_SERVICE_MESH_ADDON", "HEROKU_APPLINK_PURPLE"),
        (
            "HEROKU_APPLINK_PURPLE_API_URL",
            "https://purple.example/addons/9",
        ),
        ("HEROKU_APPLINK_PURPLE_TOKEN", "t"),
    ])
    .unwrap();
    assert_eq!(
        default_attachment(&config).base_url,
        "https://purple.example/addons/9"
    );
    let err = load(&[("HEROKU_APPLINK_SERVICE_MESH_ADDON", "OTHER")]).unwrap_err();
    assert!(err.0.contains("OTHER_API_URL"), "{err}");
}

#[test]
fn api_url_must_be_https_unless_loopback() {
    assert!(load(&[("HEROKU_APPLINK_API_URL", "http://applink.example/x")]).is_err());
    assert!(load(&[("HEROKU_APPLINK_API_URL", "http://127.0.0.1:9/x")]).is_ok());
    assert!(load(&[("HEROKU_APPLINK_API_URL", "ftp://x")]).is_err());
}

#[test]
fn the_sdks_addon_variable_names_the_attachment() {
    let purple = [
        ("HEROKU_APPLINK_API_URL", ""),
        ("HEROKU_APPLINK_TOKEN", ""),
        ("HEROKU_APPLINK_ADDON_NAME", "HEROKU_APPLINK_PURPLE"),
        (
            "HEROKU_APPLINK_PURPLE_API_URL",
            "https://purple.example/addons/9",
        ),
        ("HEROKU_APPLINK_PURPLE_TOKEN", "t"),
    ];
    let config = load(&purple).unwrap();
    assert_eq!(
        default_attachment(&config).attachment,
        "HEROKU_APPLINK_PURPLE"
    );
    // The sidecar's own variable still wins.
    let mut both = purple.to_vec();
    both.push(("HEROKU_APPLINK_SERVICE_MESH_ADDON", "OTHER"));
    let err = load(&both).unwrap_err();
    assert!(err.0.contains("OTHER_API_URL"), "{err}");
}

#[test]
fn half_an_attachment_names_the_missing_variable() {
    let err = load(&[("HEROKU_APPLINK_TOKEN", "")]).unwrap_err();
    assert!(
        err.0.starts_with("HEROKU_APPLINK_TOKEN is not set"),
        "{err}"
    );
    let err = load(&[("HEROKU_APPLINK_API_URL", "")]).unwrap_err();
    assert!(
        err.0.starts_with("HEROKU_APPLINK_API_URL is not set"),
        "{err}"
    );
    let err = load(&[("HEROKU_APPLINK_API_URL", ""), ("HEROKU_APPLINK_TOKEN", "")]).unwrap_err();
    assert!(err.0.contains("heroku local"), "{err}");
}

/// The named default (PURPLE), another add-on (GREEN), the default again under another name,
/// and two sets of variables that are not attachments.
#[rustfmt::skip]
const SEVERAL_ATTACHMENTS: [(&str, &str); 10] = [
    ("HEROKU_APPLINK_ADDON_NAME", "HEROKU_APPLINK_PURPLE"),
    ("HEROKU_APPLINK_PURPLE_API_URL", "https://applink.example/addons/AAAA-0001/"),
    ("HEROKU_APPLINK_PURPLE_TOKEN", "purple"),
    ("HEROKU_APPLINK_GREEN_API_URL", "https://applink.example/addons/bbbb-0002"),
    ("HEROKU_APPLINK_GREEN_TOKEN", "green"),
    // The default add-on attached again under another name: used once.
    ("HEROKU_APPLINK_AGAIN_API_URL", "https://applink.example/addons/aaaa-0001"),
    ("HEROKU_APPLINK_AGAIN_TOKEN", "purple"),
    // No token, or no add-on in the URL: not attachments.
    ("HEROKU_APPLINK_HALF_API_URL", "https://applink.example/addons/cccc"),
    ("STRIPE_API_URL", "https://api.stripe.example/v1"),
    ("STRIPE_TOKEN", "sk"),
];

#[test]
fn every_attachment_is_discovered_the_default_first() {
    let config = load(&SEVERAL_ATTACHMENTS).unwrap();
    let Mode::Production(attachments) = &config.mode else {
        panic!("production expected")
    };
    let found: Vec<(&str, Option<&str>)> = attachments
        .iter()
        .map(|a| (a.attachment.as_str(), a.addon_uuid.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("HEROKU_APPLINK_PURPLE", Some("aaaa-0001")),
            ("HEROKU_APPLINK", Some("1234")),
            ("HEROKU_APPLINK_GREEN", Some("bbbb-0002")),
        ]
    );
    let described = config.describe();
    assert!(
        described.contains("attachment HEROKU_APPLINK_GREEN = https://applink.example/addons/bbbb-0002 (by addonUuid"),
        "{described}"
    );
    for secret in [TOKEN, "purple", "green"] {
        assert!(!described.contains(&format!("= {secret}")), "{described}");
        assert!(!described.contains(&format!(" {secret}\n")), "{described}");
    }
}

#[test]
fn only_the_default_attachments_host_holds_other_attachments() {
    let config = load(&[
        // Another service whose URL happens to have an /addons/ segment.
        ("VENDOR_API_URL", "https://hooks.vendor.example/addons/ab12"),
        ("VENDOR_TOKEN", "vendor"),
        // The AppLink host, but plain http.
        (
            "HEROKU_APPLINK_GREEN_API_URL",
            "http://applink.example/addons/bbbb",
        ),
        ("HEROKU_APPLINK_GREEN_TOKEN", "green"),
    ])
    .unwrap();
    let Mode::Production(attachments) = &config.mode else {
        panic!("production expected")
    };
    assert_eq!(attachments.iter().count(), 1);
    let warned = |start: &str, end: &str| {
        config
            .warnings
            .iter()
            .any(|w| w.starts_with(start) && w.ends_with(end))
    };
    assert!(
        warned(
            "VENDOR_API_URL names an add-on on another host than HEROKU_APPLINK_API_URL",
            "not used as an AppLink attachment"
        ),
        "{:?}",
        config.warnings
    );
    assert!(
        warned(
            "HEROKU_APPLINK_GREEN_API_URL must use https",
            "the attachment HEROKU_APPLINK_GREEN is not used"
        ),
        "{:?}",
        config.warnings
    );
}

#[test]
fn the_addon_uuid_is_read_from_the_attachment_url() {
    use crate::config::env::addon_uuid;
    assert_eq!(
        addon_uuid("https://h/addons/1D0C-2f7e").as_deref(),
        Some("1d0c-2f7e")
    );
    assert_eq!(
        addon_uuid("https://h/v1/addons/abc/x").as_deref(),
        Some("abc")
    );
    for url in [
        "https://h/addons/",
        "https://h/addons/not-a-uuid!",
        "https://h/addon/abc",
        "https://h",
        "not a url",
    ] {
        assert_eq!(addon_uuid(url), None, "{url}");
    }
}

#[test]
fn the_token_is_never_shown() {
    let config = load(&[]).unwrap();
    assert!(!format!("{config:?}").contains(TOKEN));
    assert!(!config.describe().contains(TOKEN));
    assert!(config.describe().contains("<redacted>"));
}
