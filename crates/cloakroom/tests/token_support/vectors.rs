//! Published test vectors: RFC 8037 Appendix A (Ed25519) and RFC 7520 §3.4/§4.1 (RS256), and
//! a 1024-bit RSA key (made with `openssl genpkey`) that must be refused.

/// RFC 8037 A.1: the Ed25519 private key `d`.
pub const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
/// RFC 8037 A.1/A.2: the public key `x`.
pub const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037 A.4: the JWS, header `{"alg":"EdDSA"}`, payload "Example of Ed25519 signing".
pub const RFC8037_JWS: &str = concat!(
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.",
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
);

/// RFC 7520 §3.3: the RSA public key's `kid`, `n` and `e`.
pub const RFC7520_KID: &str = "bilbo.baggins@hobbiton.example";
pub const RFC7520_N: &str = concat!(
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqV",
    "wGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde",
    "3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5g",
    "HdrNP5zw"
);
pub const RFC7520_E: &str = "AQAB";
/// RFC 7520 §4.1.3: the RS256 JWS (compact), over the Tolkien payload of §4.
pub const RFC7520_JWS: &str = concat!(
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.",
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5k",
    "IGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.",
    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78",
    "185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLu",
    "W3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg"
);
/// RFC 7520 §3.4: the RSA private key, converted to PKCS#8 DER with `openssl pkcs8 -topk8`,
/// in standard base64.
pub const RFC7520_PKCS8: &[&str] = &[
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCfgQ+0A4Jz0CWR5Ac/MdK2ABuCzttNkvBQFl1Hz8",
    "q4o8Qct3isdVN5P475dXaNGiN02HElZMO813uepDRUSJlAfP8AmZIKkxokxEFIUqspvbCpXAZT82xg5gv5C2JY3aVv",
    "NwR7pcLR0CmvnJ1AuseqQceKDdEGit1pnoCP6gEeoUQdik97tOl7459V8d3UTpxLozUVlwPU00tgPmUUek8j1tPAmW",
    "x17e6EaoLRkK4QeDyWHPA4eu0hBtLQVVtv2Tf61VNTh+D/cv++eJQUArC4IuoqdLYFjB2r+bNKdstjuH+qLGhHuOKD",
    "f/+RGG5rHBSRHPmJqJCSqBzmAd2s0/nPAgMBAAECggEAbWUC9B+EFRIo8kpGfh0ZuyGPvMNKvYWNtB/ikiH9k20eT+",
    "O1q/I78eiZkpXxXQ0UTEs2LsNRS+8uJbvQ+A1irkwMSMkK1J3XTGgdrhCku9gRldY7sNA/AKZGh+Q661/42rINLRCe",
    "8W+nZ34ui/qOfkLnK9QWDDqpaIsA+bMwWWSDFu2MUBYwkHTMEzLYGqOe04noqeq1hExBTHBOBdkMXiuFhUq1BU6l+D",
    "qEiWxqg82sXt2h+LMnT3046AOYJoRioz75tSUQfGCshWTBnP5uDjd18kKhyv07lhfSJdrPdM5Plyl21hsFf4L/mHCu",
    "oFau7gdsPfHPxxjVOcOpBrQzwQKBgQDdKXGD8PBNclxvrT3lGhfKBAIBnlGcC9mWejXKEe2dR7H9+nsBn/2dFo7sdf",
    "/5IV8ZB661qjZMOMMBZThW6mTyvD0lHQDNnQ3Z++4gCav9YKyYal42pCd6/VPsjISyeHxQy36fkJp+GSKTOESyuad0",
    "fovE6u9EmWw+npm/xtSrSQKBgQC4oTZ2H5xN/oREXiTh7+PLvwZ89hQhpTKhJIm4HOncK5uTc4KqzqCtPxtH9y7QOb",
    "UxnBaa12oPIj3ketR6rcw/Xm8ww43yUdN5m7aWYq/CpbtqdXlTOEzWJnvPjIyS5TAVagG/Jjz3wRe9EP6F2pHEeVKo",
    "BnX3bMHelUUnSzukVwKBgAfD1b15Lya49i/hmEO798va+isOYPUmoVwcLFlM6dfU1ZYCPmFfOatTSG9a8ULQ/iLF10",
    "d/k2p3r7kT0beTgTnYjBkKfKW7duoJY2HylPxPcZ/kVCx89PnnfRPYFyyg+FRp4Kc/j30P6tvaZOcVh6CadNPUH9R7",
    "woYsUV+fXoYpAoGACLDmDGduhylc9o7r84rEUVn7pzQ6PF83Y+iBZx5NT+TpnOZKF1pErAMVeKzFEl41DlHHqqBLSM",
    "0W1sOFbwTxYWZDm6sI6og5iTbwQGIC3gnJKbi/7k/vJgGHwHxgPaX2PnvP+zyEkDERuf+ry4c/Z11Cq9AqC2yeL6kd",
    "KT1cYF8CgYEA3PiqvXQN0zwMeE+sBvZgi289XP9XCQF3VWqPzMKnIgQp7/Tugo6+NZBKCQsMf3HaEGBjTVJs/jcK8+",
    "TRXvaKe+7ZMaQj8VfBdYkssbu0NKDDhjJ+GtiseaDVWt7dcH0cfwxgFUHpQh7FoCrjFJ6h6ZEpMF6xmujs4qMpPz8a",
    "aI4=",
];

/// A 1024-bit RSA key, PKCS#8 DER in standard base64: below the 2048-bit floor.
pub const RSA_1024_PKCS8: &[&str] = &[
    "MIICXgIBAAKBgQDGYc9apEMkKZb44NVzhLdy4FYB5hBzZk3HmAv0fZnUMclM+0pGeGx11Q2YscvIxb2jU9oDR63wOn",
    "Ca/7jzgW5DQoBJtUGtvqfIKWGd9r4OcqJcd6MvPssU7tV1rIlpCn8hTfwKqyryJA7vFJ4IBAI7JK++dBxdrxpPx+hF",
    "zQtBDwIDAQABAoGAY069RSurbKPhLo8mayCJ0NjaVTL9EzeoQf0sJuTlJ6MQmRfGU8aezNGtb725PLU4PFWSckfkm7",
    "g1fHH8/PDS57j2E5JwcpXKSe5JVCakgcVoMIbXQGPV2psakYO/bt/hQ9VNhdcKWP86c9N0/aDV5ttJjORr6cAE+znw",
    "YoPxYVECQQDi7smNpNxptnYB7y47GUFZpq5Byi09hTct9kG8wpAYHnR0cRDMHhUyqxizOz0ePZn91IQaDPcfEvovsN",
    "j+q8JJAkEA38rVnoqK2fEMy230OVUwhtxH6PThDSPDQwcyg5PrOC8ghSn5JCVvYZ6+UuWS4S73XjWMeRhVf1zzBGk8",
    "uF5olwJBAMsXoVIepRQGs33vrJQ/efjd7z35zpssScHcjeB8z7CGMPq05a+HjLkX3rco4P3ba6F7O+6Eg/VPapCb2N",
    "eyp+ECQQDQqVz4kBDbGMhnPURD2MyAUg+yg/D6wWekradJy7e8ESTvRK2KKGVrzgmDXY7P62y2KJOrrSa6tD3a1QzK",
    "kyxNAkEAuHaEQDHXf38HEqpwLtc2Mv3DT1YJArSExnBEb7SVOlJBT+rcXWvZi1paNn+0maI7cTgQRNoXlg/blkvULm",
    "AqAg==",
];

/// RFC 7520 §3.5: the symmetric key (`k`) and its `kid`.
pub const RFC7520_HMAC_KID: &str = "018c0ae5-4d9b-471b-bfd6-eef314bc7037";
pub const RFC7520_HMAC_K: &str = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg";
/// RFC 7520 §4.4.3: the HS256 JWS (compact) over the same payload.
pub const RFC7520_HS256_JWS: &str = concat!(
    "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.",
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5k",
    "IGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.",
    "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"
);
