//! `seed-cnn`: the Keras notebook's network, with its stride-1 pooling corrected to stride 2.

use super::Builder;

pub(super) fn build(b: &mut Builder, k: i64) {
    for (i, w) in [64, 128, 256, 512].into_iter().enumerate() {
        let blk = i + 1;
        b.conv(&format!("block{blk}_conv1"), w, [3, 1], false);
        b.bn(&format!("block{blk}_bn1"));
        b.relu(&format!("block{blk}_relu1"));
        b.conv(&format!("block{blk}_conv2"), w, [1, 3], false);
        b.bn(&format!("block{blk}_bn2"));
        b.relu(&format!("block{blk}_relu2"));
        b.pool(&format!("block{blk}_pool"));
        b.dropout(&format!("block{blk}_drop"), 0.25);
    }
    b.flatten("flatten");
    for (name, units) in [("fc1", 512), ("fc2", 256)] {
        b.linear(name, units);
        b.bn1d(&format!("{name}_bn"));
        b.relu(&format!("{name}_relu"));
        b.dropout(&format!("{name}_drop"), 0.5);
    }
    b.linear("head", k);
}
