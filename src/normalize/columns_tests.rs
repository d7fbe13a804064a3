//! Tests of column mapping.

use super::*;

fn h(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn fields_parse_and_reject_unknown_names() {
    assert_eq!("click_time".parse::<Field>(), Ok(Field::ClickTime));
    assert_eq!(
        "UTM_Source".parse::<Field>(),
        Ok(Field::Param("utm_source".into()))
    );
    assert_eq!("gclid".parse::<Field>(), Ok(Field::Param("gclid".into())));
    assert_eq!(
        "settings.conversion_type".parse::<Field>(),
        Ok(Field::Setting("conversion_type".into()))
    );
    assert!("settings.email".parse::<Field>().is_err());
    assert!("utm_".parse::<Field>().is_err());
    let err = "phone".parse::<Field>().unwrap_err();
    assert!(err.contains("unknown field 'phone'") && err.contains("click_time"));
}

#[test]
fn canonicalization_trims_lowercases_and_underscores() {
    assert_eq!(canonical("  E-Mail "), "e_mail");
    assert_eq!(canonical("Fecha Hora"), "fecha_hora");
    assert_eq!(canonical("UTM Source"), "utm_source");
}

#[test]
fn aliases_map_automatically() {
    let header = h(&[
        "Fecha",
        "Correo",
        "UTM Source",
        "utm_campaign",
        "GCLID",
        "Landing Page",
        "Referer",
        "x",
    ]);
    let m = resolve(&header, &[]).unwrap();
    assert_eq!(m.click_time, Some(0));
    assert_eq!(m.email, Some(1));
    // In key order.
    assert_eq!(
        m.params,
        vec![
            ("gclid".into(), 4),
            ("utm_campaign".into(), 3),
            ("utm_source".into(), 2),
        ]
    );
    assert_eq!(m.current_url, Some(5));
    assert_eq!(m.referrer, Some(6));
}

#[test]
fn explicit_map_wins_and_removes_column_and_field_from_auto_matching() {
    // "email" would auto-match, but --map takes the field from another column;
    // "date" would match click_time, but click_date fills it.
    let header = h(&["date", "hour", "email", "work_email", "utm_source"]);
    let explicit = vec![
        (Field::Email, "work_email".to_string()),
        (Field::ClickDate, "date".to_string()),
        (Field::ClickTimeOfDay, "hour".to_string()),
    ];
    let m = resolve(&header, &explicit).unwrap();
    assert_eq!(m.email, Some(3));
    assert_eq!(m.click_date, Some(0));
    assert_eq!(m.click_time_of_day, Some(1));
    assert_eq!(m.click_time, None);
}

#[test]
fn two_headers_for_one_field_name_both() {
    let err = resolve(&h(&["date", "time", "email", "utm_source"]), &[])
        .unwrap_err()
        .0;
    assert!(err.contains("'date' and 'time'"), "{err}");
    assert!(err.contains("click_date"), "{err}");
    let err = resolve(&h(&["Email", "e-mail", "date", "utm_source"]), &[])
        .unwrap_err()
        .0;
    assert!(err.contains("'Email' and 'e-mail'"), "{err}");
}

#[test]
fn missing_required_fields_list_the_headers_found() {
    let err = resolve(&h(&["when", "email", "utm_source"]), &[])
        .unwrap_err()
        .0;
    assert!(
        err.contains("click_time") && err.contains("'when'"),
        "{err}"
    );
    let err = resolve(&h(&["date", "utm_source"]), &[]).unwrap_err().0;
    assert!(err.contains("no column for email"), "{err}");
    let err = resolve(&h(&["date", "email"]), &[]).unwrap_err().0;
    assert!(err.contains("url_parameters"), "{err}");
    let err = resolve(
        &h(&["date", "email"]),
        &[(Field::Param("utm_source".into()), "src".into())],
    )
    .unwrap_err()
    .0;
    assert!(err.contains("no column 'src'"), "{err}");
}

#[test]
fn projection_rewrites_indices() {
    let mut m = resolve(&h(&["a", "date", "b", "email", "utm_source"]), &[]).unwrap();
    let used = m.used();
    assert_eq!(used, vec![1, 3, 4]);
    m.project(&used);
    assert_eq!(
        (m.click_time, m.email, m.params[0].1),
        (Some(0), Some(1), 2)
    );
}

#[test]
fn accented_headers_unicode_spaces_and_dashes_match_their_aliases() {
    for (time, email) in [
        ("Fecha/Hora", "Correo electrónico"),
        ("Fecha\u{00A0}Hora", "E\u{2011}mail"),
        ("\u{FEFF}Marca temporal", "Dirección de correo electrónico"),
        ("Carimbo de data/hora", "Endereço de e-mail"),
        ("Horodateur", "Adresse e-mail"),
        ("Zeitstempel", "E-Mail-Adresse"),
        ("Informazioni cronologiche", "Indirizzo email"),
        ("Fecha y hora", "Correo\u{202F}Electrónico"),
    ] {
        let m = resolve(&h(&[time, email, "UTM\u{00A0}Source", "Teléfono"]), &[])
            .unwrap_or_else(|e| panic!("{time} / {email}: {e}"));
        assert_eq!(
            (m.click_time, m.email),
            (Some(0), Some(1)),
            "{time} / {email}"
        );
        assert_eq!(m.params, vec![("utm_source".to_string(), 2)]);
    }
    // Keys sent keep their accents: only alias matching folds them.
    assert_eq!(
        auto_field("settings.Categoría"),
        Some(Field::Setting("categoría".into()))
    );
    assert_eq!(canonical("E\u{00A0}Mail\u{200B}"), "e_mail");
    // --map finds a column by its folded name; two folded matches are an error.
    let header = h(&["Fecha", "Correo electrónico de contacto", "utm_source"]);
    let explicit = [(Field::Email, "CORREO ELECTRONICO DE CONTACTO".into())];
    let m = resolve(&header, &explicit).unwrap();
    assert_eq!(m.email, Some(1));
    let header = h(&["Córreo", "Correo", "fecha", "utm_source"]);
    let err = resolve(&header, &[(Field::Email, "CORREÓ".into())])
        .unwrap_err()
        .0;
    assert!(err.contains("several headers"), "{err}");
}

#[test]
fn every_mapping_problem_is_named_in_one_message() {
    // A --map column that is missing, two headers for one field, and a required field
    // without a column: three problems, one message, the headers listed once.
    let err = resolve(
        &h(&["Email", "e-mail", "when", "utm_source"]),
        &[(Field::Param("utm_campaign".into()), "campaign".into())],
    )
    .unwrap_err()
    .0;
    assert!(err.starts_with("3 mapping problems:"), "{err}");
    assert!(
        err.contains("--map utm_campaign=campaign: no column 'campaign'"),
        "{err}"
    );
    assert!(
        err.contains("'Email' and 'e-mail' both look like email"),
        "{err}"
    );
    assert!(err.contains("no column for click_time"), "{err}");
    assert_eq!(err.matches("columns found:").count(), 1, "{err}");
    assert!(err.contains("'when'"), "{err}");

    // A missing --map column is one problem, not also "no column for" its field.
    let err = resolve(
        &h(&["date", "utm_source"]),
        &[(Field::Email, "mail".into())],
    )
    .unwrap_err()
    .0;
    assert!(
        err.starts_with("--map email=mail: no column 'mail'"),
        "{err}"
    );
    assert!(!err.contains("no column for email"), "{err}");

    // Exclusive --map pairs are named beside the missing fields.
    let err = resolve(
        &h(&["d", "t", "utm_source"]),
        &[(Field::ClickTimeOfDay, "t".into())],
    )
    .unwrap_err()
    .0;
    assert!(err.contains("2 mapping problems"), "{err}");
    assert!(
        err.contains("click_time_of_day needs --map click_date"),
        "{err}"
    );
    assert!(err.contains("no column for email"), "{err}");
}

#[test]
fn a_mapped_click_date_keeps_a_timestamp_header_from_being_matched_too() {
    let m = resolve(
        &h(&["Timestamp", "d", "t", "email", "utm_source"]),
        &[
            (Field::ClickDate, "d".into()),
            (Field::ClickTimeOfDay, "t".into()),
        ],
    )
    .unwrap();
    assert_eq!(
        (m.click_time, m.click_date, m.click_time_of_day),
        (None, Some(1), Some(2))
    );
}
