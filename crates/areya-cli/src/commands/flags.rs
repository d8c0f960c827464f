//! Library errors name the setting at fault (`optimizer.lr`, `min_face`), since the same
//! setting may come from a flag or from a file (a run's `config.json`, a ward file). Where this
//! command line filled a setting from a flag, its error names the flag instead.

#[cfg(feature = "model")]
use areya_ml::MlError;
use areya_vision::VisionError;

/// (setting, flag) for every setting a flag fills.
const FLAGS: &[(&str, &str)] = &[
    ("data.image_size", "--image-size"),
    ("data.val_fraction", "--val-fraction"),
    ("data.limit", "--limit"),
    ("data.classes", "--classes"),
    ("data.auxiliary", "--auxiliary-classes"),
    ("augment.rotation", "--rotation"),
    ("augment.shear", "--shear"),
    ("augment.zoom", "--zoom"),
    ("augment.shift", "--shift"),
    ("augment.erase", "--erase"),
    ("augment.blur", "--blur"),
    ("augment.gamma", "--gamma"),
    ("augment.surround", "--surround"),
    ("architecture", "--arch"),
    ("init", "--init"),
    ("freeze_base", "--freeze-base"),
    ("optimizer.lr", "--lr"),
    ("optimizer.beta1", "--beta1"),
    ("optimizer.beta2", "--beta2"),
    ("optimizer.weight_decay", "--weight-decay"),
    ("schedule.warmup_epochs", "--warmup-epochs"),
    ("label_smoothing", "--label-smoothing"),
    ("batch_size", "--batch-size"),
    ("epochs", "--epochs"),
    ("distill.teachers", "--teacher"),
    ("distill.alpha", "--distill-alpha"),
    ("distill.temperature", "--distill-temperature"),
    ("callbacks.reduce_lr.factor", "--reduce-lr-factor"),
    ("monitor", "--monitor"),
    ("precision", "--precision"),
    ("perturbation", "--perturb"),
    ("roi", "--roi"),
    ("fps", "--fps"),
    ("size", "--size"),
    ("min_face", "--min-face"),
    ("threshold", "--detect-threshold"),
    ("detector_model", "--detector-model"),
    ("runtime", "--runtime"),
];

/// The flag that fills `setting`, if one does.
pub fn flag_of(setting: &str) -> Option<&'static str> {
    FLAGS.iter().find(|(s, _)| *s == setting).map(|(_, f)| *f)
}

/// `e`, naming the flag where it names a setting a flag filled.
pub fn by_flag(e: impl Into<anyhow::Error>) -> anyhow::Error {
    let e = e.into();
    let setting = match e.downcast_ref::<VisionError>() {
        Some(VisionError::Config(s)) => Some(s),
        _ => None,
    };
    #[cfg(feature = "model")]
    let setting = setting.or(match e.downcast_ref::<MlError>() {
        Some(MlError::Config(s)) => Some(s),
        _ => None,
    });
    let named =
        setting.and_then(|s| flag_of(&s.field).map(|flag| anyhow::anyhow!("{flag}: {}", s.msg)));
    named.unwrap_or(e)
}

#[cfg(all(test, feature = "model"))]
mod tests {
    use super::*;

    #[test]
    fn settings_become_flags_and_other_errors_pass_unchanged() {
        let e = by_flag(MlError::config("optimizer.lr", "must be a positive number"));
        assert_eq!(e.to_string(), "--lr: must be a positive number");
        let e = by_flag(VisionError::config("min_face", "must be ≥ 20 pixels"));
        assert_eq!(e.to_string(), "--min-face: must be ≥ 20 pixels");
        let e = by_flag(MlError::config("config.json", "bad"));
        assert_eq!(e.to_string(), "config.json: bad");
        let e = by_flag(anyhow::anyhow!("x"));
        assert_eq!(e.to_string(), "x");
    }
}
