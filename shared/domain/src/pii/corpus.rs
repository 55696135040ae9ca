//! A labelled corpus: sentences in the shapes agent output and intakes carry,
//! each with the PII values it holds. Positives cover every type and the
//! common national forms; negatives are look-alikes (timestamps, UUIDs, ISBNs,
//! parcel tracking numbers, versions and builds, order ids, prices, dates).

use super::PiiType::{self, CreditCard, Email, Iban, Ipv4, Ipv6, Phone, Ssn};

pub(super) type Labelled = (&'static str, Vec<(PiiType, &'static str)>);

pub(super) fn positives() -> Vec<Labelled> {
    vec![
        // E-mail addresses, ASCII and internationalised.
        (
            "Contact sarah.connor@skynet.io for access",
            vec![(Email, "sarah.connor@skynet.io")],
        ),
        (
            "Escalate to ops@acme-corp.com or +1 415 555 0199",
            vec![(Email, "ops@acme-corp.com"), (Phone, "+1 415 555 0199")],
        ),
        (
            "Send the brief to first.last+osa@mail.example.co.uk today",
            vec![(Email, "first.last+osa@mail.example.co.uk")],
        ),
        (
            "Reach Dana on 415-555-0188 or dana_k@example.org",
            vec![(Phone, "415-555-0188"), (Email, "dana_k@example.org")],
        ),
        (
            "cc: a.b@c.io, x@y.dev",
            vec![(Email, "a.b@c.io"), (Email, "x@y.dev")],
        ),
        (
            "Owner: devops-team@corp.example.com.",
            vec![(Email, "devops-team@corp.example.com")],
        ),
        (
            "Email ANNA.SCHMIDT@EXAMPLE.DE before Friday",
            vec![(Email, "ANNA.SCHMIDT@EXAMPLE.DE")],
        ),
        (
            "Mail <pat.o'brien@example.ie> about the survey",
            vec![(Email, "pat.o'brien@example.ie")],
        ),
        (
            "\u{201c}maria.rossi@example.it\u{201d} wrote the brief",
            vec![(Email, "maria.rossi@example.it")],
        ),
        (
            "Write to josé.garcía@correo.es for the Spanish market",
            vec![(Email, "josé.garcía@correo.es")],
        ),
        (
            "Kontakt: jürgen.müller@bücher.de (Vertrieb)",
            vec![(Email, "jürgen.müller@bücher.de")],
        ),
        (
            "Customer 张伟@例子.中国 asked for a callback",
            vec![(Email, "张伟@例子.中国")],
        ),
        (
            "Αποστολή σε χρήστης@παράδειγμα.ελ αύριο",
            vec![(Email, "χρήστης@παράδειγμα.ελ")],
        ),
        ("संपर्क: मनोज@उदाहरण.भारत", vec![(Email, "मनोज@उदाहरण.भारत")]),
        (
            "Support (help@example.xn--p1ai) replied",
            vec![(Email, "help@example.xn--p1ai")],
        ),
        (
            "user123@mail-server.example.net signed up twice",
            vec![(Email, "user123@mail-server.example.net")],
        ),
        (
            "Invoices go to info@müller-gmbh.de and x_y-z@example.io",
            vec![(Email, "info@müller-gmbh.de"), (Email, "x_y-z@example.io")],
        ),
        (
            "Tag-filtered user+promo@sub.domain.example.org opted out",
            vec![(Email, "user+promo@sub.domain.example.org")],
        ),
        (
            "Curator: ÆSA.ØRSTED@example.museum",
            vec![(Email, "ÆSA.ØRSTED@example.museum")],
        ),
        // North American phone numbers.
        (
            "Call the store at (212) 555-0143 after 9",
            vec![(Phone, "(212) 555-0143")],
        ),
        (
            "Call (646) 555-0199 ext. 12",
            vec![(Phone, "(646) 555-0199")],
        ),
        (
            "Fax 415.555.0123 is unmonitored",
            vec![(Phone, "415.555.0123")],
        ),
        ("Toll-free 1-800-555-0199", vec![(Phone, "1-800-555-0199")]),
        (
            "US office +1 (415) 555-0132",
            vec![(Phone, "+1 (415) 555-0132")],
        ),
        ("Desk: +1-202-555-0173", vec![(Phone, "+1-202-555-0173")]),
        // British.
        (
            "Hotline +44 20 7946 0958 (UK)",
            vec![(Phone, "+44 20 7946 0958")],
        ),
        (
            "UK line 020 7946 0018 is staffed",
            vec![(Phone, "020 7946 0018")],
        ),
        (
            "London desk +44 (0)20 7946 0958",
            vec![(Phone, "+44 (0)20 7946 0958")],
        ),
        (
            "Text 07700 900123 for offers",
            vec![(Phone, "07700 900123")],
        ),
        ("Mobile +44 7700 900123", vec![(Phone, "+44 7700 900123")]),
        (
            "Manchester office: 0161 496 0000.",
            vec![(Phone, "0161 496 0000")],
        ),
        ("Rural line 01632 960001", vec![(Phone, "01632 960001")]),
        ("Ring me on 07911 123456", vec![(Phone, "07911 123456")]),
        ("Freephone 0800 123 4567", vec![(Phone, "0800 123 4567")]),
        // German.
        ("Berlin +49 30 12345678", vec![(Phone, "+49 30 12345678")]),
        ("Zentrale 030 12345678", vec![(Phone, "030 12345678")]),
        (
            "Mobile +49 151 23456789 for the German team",
            vec![(Phone, "+49 151 23456789")],
        ),
        ("Handy 0151 23456789", vec![(Phone, "0151 23456789")]),
        (
            "München +49 (0)89 636 48018",
            vec![(Phone, "+49 (0)89 636 48018")],
        ),
        ("Tel. 089 636-48018", vec![(Phone, "089 636-48018")]),
        ("Fax 030/1234567", vec![(Phone, "030/1234567")]),
        (
            "From abroad dial 0049 30 1234567",
            vec![(Phone, "0049 30 1234567")],
        ),
        ("Durchwahl (030) 1234567", vec![(Phone, "(030) 1234567")]),
        (
            "Tel: +49 (0) 30 1234 5678",
            vec![(Phone, "+49 (0) 30 1234 5678")],
        ),
        ("Vorwahl (0151) 23456789", vec![(Phone, "(0151) 23456789")]),
        // French.
        (
            "Paris +33 1 23 45 67 89",
            vec![(Phone, "+33 1 23 45 67 89")],
        ),
        ("Standard 01 23 45 67 89", vec![(Phone, "01 23 45 67 89")]),
        ("Portable 06.12.34.56.78", vec![(Phone, "06.12.34.56.78")]),
        (
            "Mobile +33 6 12 34 56 78",
            vec![(Phone, "+33 6 12 34 56 78")],
        ),
        (
            "Siège +33 (0)1 42 68 53 00",
            vec![(Phone, "+33 (0)1 42 68 53 00")],
        ),
        ("Marseille 04-91-12-34-56", vec![(Phone, "04-91-12-34-56")]),
        (
            "T +33 (0)6 12 34 56 78",
            vec![(Phone, "+33 (0)6 12 34 56 78")],
        ),
        (
            "Depuis l'étranger 0033 1 23 45 67 89",
            vec![(Phone, "0033 1 23 45 67 89")],
        ),
        // Elsewhere in Europe.
        (
            "Amsterdam +31 20 123 4567",
            vec![(Phone, "+31 20 123 4567")],
        ),
        ("Madrid +34 912 345 678", vec![(Phone, "+34 912 345 678")]),
        ("Roma +39 06 1234 5678", vec![(Phone, "+39 06 1234 5678")]),
        ("Zürich +41 44 668 18 00", vec![(Phone, "+41 44 668 18 00")]),
        ("E.164 form +4915123456789", vec![(Phone, "+4915123456789")]),
        ("Dublin +353 1 234 5678", vec![(Phone, "+353 1 234 5678")]),
        (
            "WhatsApp +971 50 123 4567",
            vec![(Phone, "+971 50 123 4567")],
        ),
        ("NY desk +1 212-555-0143", vec![(Phone, "+1 212-555-0143")]),
        // IBANs, grouped and compact.
        (
            "Pay to DE89 3704 0044 0532 0130 00 by Friday",
            vec![(Iban, "DE89 3704 0044 0532 0130 00")],
        ),
        (
            "IBAN: DE89370400440532013000",
            vec![(Iban, "DE89370400440532013000")],
        ),
        (
            "Refund to GB29 NWBK 6016 1331 9268 19.",
            vec![(Iban, "GB29 NWBK 6016 1331 9268 19")],
        ),
        (
            "Compte FR14 2004 1010 0505 0001 3M02 606",
            vec![(Iban, "FR14 2004 1010 0505 0001 3M02 606")],
        ),
        (
            "Rekening NL91ABNA0417164300",
            vec![(Iban, "NL91ABNA0417164300")],
        ),
        (
            "Cuenta ES91 2100 0418 4502 0005 1332",
            vec![(Iban, "ES91 2100 0418 4502 0005 1332")],
        ),
        (
            "Conto IT60 X054 2811 1010 0000 0123 456",
            vec![(Iban, "IT60 X054 2811 1010 0000 0123 456")],
        ),
        (
            "Konto CH93 0076 2011 6238 5295 7 (CHF)",
            vec![(Iban, "CH93 0076 2011 6238 5295 7")],
        ),
        (
            "BE68 5390 0754 7034 and AT61 1904 3002 3457 3201",
            vec![
                (Iban, "BE68 5390 0754 7034"),
                (Iban, "AT61 1904 3002 3457 3201"),
            ],
        ),
        (
            "Rachunek PL61 1090 1014 0000 0712 1981 2874",
            vec![(Iban, "PL61 1090 1014 0000 0712 1981 2874")],
        ),
        (
            "Konto NO93 8601 1117 947",
            vec![(Iban, "NO93 8601 1117 947")],
        ),
        (
            "IE29 AIBK 9311 5212 3456 78 (Dublin branch)",
            vec![(Iban, "IE29 AIBK 9311 5212 3456 78")],
        ),
        (
            "Konto SE45 5000 0000 0583 9825 7466; DK50 0040 0440 1162 43",
            vec![
                (Iban, "SE45 5000 0000 0583 9825 7466"),
                (Iban, "DK50 0040 0440 1162 43"),
            ],
        ),
        (
            "PT50 0002 0123 1234 5678 9015 4, LU28 0019 4006 4475 0000",
            vec![
                (Iban, "PT50 0002 0123 1234 5678 9015 4"),
                (Iban, "LU28 0019 4006 4475 0000"),
            ],
        ),
        (
            "Tili FI21 1234 5600 0007 85 ja GR16 0110 1250 0000 0001 2300 695",
            vec![
                (Iban, "FI21 1234 5600 0007 85"),
                (Iban, "GR16 0110 1250 0000 0001 2300 695"),
            ],
        ),
        (
            "lowercase gb29nwbk60161331926819 in a form",
            vec![(Iban, "gb29nwbk60161331926819")],
        ),
        // Payment cards.
        (
            "Customer paid with 5500 0000 0000 0004 yesterday",
            vec![(CreditCard, "5500 0000 0000 0004")],
        ),
        (
            "Amex 3782 822463 10005 on file",
            vec![(CreditCard, "3782 822463 10005")],
        ),
        (
            "Visa 4111-1111-1111-1111 was charged twice",
            vec![(CreditCard, "4111-1111-1111-1111")],
        ),
        (
            "Refund card 4012888888881881 please",
            vec![(CreditCard, "4012888888881881")],
        ),
        (
            "Mastercard 2223 0000 4841 0010 declined",
            vec![(CreditCard, "2223 0000 4841 0010")],
        ),
        (
            "Discover 6011 1111 1111 1117, exp 12/28",
            vec![(CreditCard, "6011 1111 1111 1117")],
        ),
        (
            "JCB 3530 1113 3330 0000 and Diners 3056 9309 0259 04",
            vec![
                (CreditCard, "3530 1113 3330 0000"),
                (CreditCard, "3056 9309 0259 04"),
            ],
        ),
        (
            "Card 4111 1111 1111 1111 12/28 CVC 123",
            vec![(CreditCard, "4111 1111 1111 1111")],
        ),
        (
            "UnionPay 6200000000000005",
            vec![(CreditCard, "6200000000000005")],
        ),
        (
            "Cards 5105 1051 0510 5100, 6011 0009 9013 9424 and 3566 0020 2036 0505",
            vec![
                (CreditCard, "5105 1051 0510 5100"),
                (CreditCard, "6011 0009 9013 9424"),
                (CreditCard, "3566 0020 2036 0505"),
            ],
        ),
        (
            "Amex 371449635398431; Dankort 5019 7170 1010 3742",
            vec![
                (CreditCard, "371449635398431"),
                (CreditCard, "5019 7170 1010 3742"),
            ],
        ),
        // US SSNs.
        ("SSN on the form: 219-09-9999", vec![(Ssn, "219-09-9999")]),
        (
            "Applicant SSN 078-05-1120 must be removed",
            vec![(Ssn, "078-05-1120")],
        ),
        ("ssn=536-22-1234;", vec![(Ssn, "536-22-1234")]),
        // IP addresses.
        (
            "Traffic spike from 203.0.113.45 and 198.51.100.7",
            vec![(Ipv4, "203.0.113.45"), (Ipv4, "198.51.100.7")],
        ),
        (
            "Admin logged in from 192.0.2.254 at noon",
            vec![(Ipv4, "192.0.2.254")],
        ),
        (
            "Proxy 192.168.1.10:8080 cached the page",
            vec![(Ipv4, "192.168.1.10")],
        ),
        (
            "Bot at fe80::1ff:fe23:4567:890a hit checkout",
            vec![(Ipv6, "fe80::1ff:fe23:4567:890a")],
        ),
        (
            "IPv6 client 2001:db8:85a3::8a2e:370:7334 blocked",
            vec![(Ipv6, "2001:db8:85a3::8a2e:370:7334")],
        ),
        (
            "Full form 2001:0db8:0000:0000:0000:ff00:0042:8329 seen",
            vec![(Ipv6, "2001:0db8:0000:0000:0000:ff00:0042:8329")],
        ),
        (
            "Mapped ::ffff:192.0.2.128 in the logs",
            vec![(Ipv6, "::ffff:192.0.2.128")],
        ),
        (
            "Hosts 10.0.0.12, 172.16.254.1 and 8.8.8.8",
            vec![
                (Ipv4, "10.0.0.12"),
                (Ipv4, "172.16.254.1"),
                (Ipv4, "8.8.8.8"),
            ],
        ),
        ("Peer [2001:db8::1]:443", vec![(Ipv6, "2001:db8::1")]),
    ]
}

pub(super) fn negatives() -> Vec<&'static str> {
    vec![
        // Ordinary numbers and measures.
        "Lift conversion 12% across 412 pages",
        "Run 3 experiments in 30 days on 2 templates",
        "Segment of 25-45 year olds, 1,250,000 visitors",
        "The 90-day roadmap has 3 phases",
        "Revenue rose from 1.2M to 1.5M in Q3",
        "Project 123456 has 42 experiments",
        "Aspect ratio 16:9 at 1920x1080",
        "Timeline 30d/60d/90d with 6 per phase",
        "Email open rate 23.5% vs 21.0% benchmark",
        "the ratio was 3:1 in Q4",
        "Sessions 12 450 | 13 200 | 14 100 by week",
        "Reach grew +15 000 000 impressions",
        "Coordinates 48.8566, 2.3522 for the Paris store",
        "Zip 94105 and 10115 Berlin",
        // Timestamps and dates.
        "Build 2026.11.25 shipped at 10:30:00",
        "Created 2026-11-25T10:00:00Z, updated 2026-11-25T10:30:15.123+01:00",
        "Run at 2026-11-25 10:00:00 UTC",
        "at 10:00:00 on 2026-11-25",
        "Epoch 1764000000000 ms, or 1764000000 s",
        "Date range 2026-01-01 to 2026-03-31",
        "Due 25.11.2026, then 11/25/2026 in the US format",
        "Kick-off 01.12.2026 10:30 in Berlin",
        "Deadline 05-11-2026",
        "Period 2026/11/25 to 2026/12/24",
        // UUIDs and hashes.
        "Workspace 7c9e6679-7425-40de-944b-e07fc1f90ae7 is live",
        "trace 123e4567-e89b-12d3-a456-426614174000 failed",
        "nil id 00000000-0000-0000-0000-000000000000",
        "request 12345678-1234-5678-1234-567812345678",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        // ISBNs and product codes.
        "ISBN 978-3-16-148410-0 is out of print",
        "ISBN-13: 9780306406157",
        "ISBN 0-306-40615-2 (paperback)",
        "ISBN 978 0 306 40615 7",
        "SKU 4006381333931 sells best",
        "EAN 5901234123457 on the shelf",
        "GTIN 00012345600012",
        "VAT DE123456789 on the invoice",
        // Parcel tracking numbers.
        "UPS 1Z999AA10123456784 is in transit",
        "USPS 9400 1000 0000 0000 0000 00",
        "FedEx 7489 8452 1230 delivered",
        "DHL JD014600006281230705 held at customs",
        "Royal Mail AB123456789GB signed for",
        "Tracking 9205 5000 0000 0000 0000 00",
        // Versions and builds.
        "Version 10.4.2 fixed the carousel",
        "version 1.2.3.4000",
        "Release 2.14.3-rc.1 is staged",
        "build 2026.11.25.1432 passed",
        "Chrome 120.0.6099.109 on Windows 10.0.19045.3693",
        "Upgraded to version 4.2.0.1 last week",
        "SDK 3.1.4 (build 20261125.3)",
        "OID 1.3.6.1.4.1.311 in the certificate",
        "install lodash@4.17.21 and react@18.2.0",
        // Order ids and tickets.
        "Order 112-4534218-1234567 shipped",
        "Order 4111111111111112 failed validation",
        "PO-2026-000123 approved",
        "INV-2026-11-0042 is overdue",
        "Ticket ABC-1234-5678 is closed",
        "Reference 1234 5678 9012 3456 is not a card",
        // Prices.
        "Price tiers: $19.99, $49.99 and $99.00",
        "Bundle at $1,299.00 or € 49,99 a month",
        "Budget 1.250.000 € for 2027",
        "Growth +12.5% YoY",
        // Look-alikes of the other types.
        "4111 1111 1111 1112 fails the checksum",
        "000-12-3456 and 666-12-3456 are not issued",
        "IBAN DE89 3704 0044 0532 0130 01 has a typo",
        "Images logo@2x.png and icon@3x.webp",
        "Rust path std::vec::Vec and a::b",
        "MAC 00:1A:2B:3C:4D:5E on the router",
        "Network 10.0.0.0/8 is internal",
        "Scores 0.91 0.87 0.78 by segment",
        "Call volume 12 345 678 last year",
        "Room 0.42 on floor 3",
        // Analytics prose.
        "Conversion rate improved from 2.3% to 3.1% (p < 0.05)",
        "Average order value $84.20 across 12,408 orders",
        "Experiment EXP-2026-0042 ran for 14 days",
        "Page /products/shoes-123 had 4,512 sessions",
        "Top URL https://www.example.com/p/12345?utm_source=news&id=987654321",
        "Segment seg_01HF8X2K9Z7Q4 holds 18 500 users",
        "Core Web Vitals: LCP 2.4 s, CLS 0.08, INP 180 ms",
        "Q3 FY2026 revenue: €12.4M",
        "Median time on page 00:03:45",
        "Colour #1A2B3C, rgb(26, 43, 60)",
        "Latency p50=120ms p95=480ms p99=1200ms",
        "Price bands 100-200, 300-400 and 500-600",
        "Postcode SW1A 1AA in London",
        "Order numbers 100045678, 100045679",
        "Latitude 51.5074, longitude -0.1278",
        "Semantic version 2.0.0-beta.1+exp.sha.5114f85",
        "Image sha256:9b2a5c7e1f3d4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b",
        "Duration PT1H30M in ISO week 2026-W48",
        "Ratios 1:2:3 and 16:10",
        "Timestamp 12:30:45.123",
        "ASIN B08N5WRWNW and ISSN 0317-8471",
        "AWS account 123456789012",
        "Ref 2026-11-25-001 in report_2026-11-25_v3.pdf",
        "GTIN-14 10012345678902 and UPC 036000291452",
        "IMEI 490154203237518 on the test phone",
        "Build 1.0.0.127 and Node 18.19.0 with npm 10.2.3",
        "Banner 1200 x 628 px at 1080p",
        "Shifts 0800-1200 and 1300-1700",
    ]
}
