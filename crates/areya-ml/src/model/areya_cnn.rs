//! `areya-cnn`: Areya's default VGG-style network, sized so a FER epoch takes minutes on 2 cores.

use super::Builder;

pub(super) fn build(
    b: &mut Builder,
    widths: &[i64],
    convs: usize,
    dropout: f64,
    head_dropout: f64,
    standardize: bool,
    k: i64,
) {
    if standardize {
        b.standardize("input_std");
    }
    for (i, &w) in widths.iter().enumerate() {
        let blk = i + 1;
        for j in 1..=convs {
            b.conv(&format!("block{blk}_conv{j}"), w, [3, 3], false);
            b.bn(&format!("block{blk}_bn{j}"));
            b.relu(&format!("block{blk}_relu{j}"));
        }
        b.pool(&format!("block{blk}_pool"));
        b.dropout(&format!("block{blk}_drop"), dropout);
    }
    b.global_avg_pool("gap");
    b.dropout("head_drop", head_dropout);
    b.linear("head", k);
}
