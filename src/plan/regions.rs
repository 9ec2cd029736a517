//! Regions: one per distinct prefix key, each listing the row groups of every input
//! that hold it. With P = 0 the whole data set is one region.

use crate::input::InputFile;
use crate::key::{KeyValue, PrefixKey};
use std::collections::BTreeMap;

/// The rows one input contributes to a region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionMember {
    /// Index of the input in the merge's input list.
    pub input: usize,
    /// Row groups of that input, in file order.
    pub row_groups: Vec<usize>,
    pub rows: u64,
}

/// A set of rows sharing one prefix key.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Encoded prefix key (empty when P = 0).
    pub key: PrefixKey,
    /// Decoded prefix values (empty when P = 0).
    pub values: Vec<KeyValue>,
    /// Contributing inputs, in input order (ties in the merge go to the earlier input).
    pub members: Vec<RegionMember>,
    pub rows: u64,
    /// Compressed input bytes of the region.
    pub bytes: u64,
}

/// Group the non-empty row groups of validated inputs into regions in key order.
pub fn build_regions(inputs: &[InputFile]) -> Vec<Region> {
    let prefix_len = inputs.first().map_or(0, |i| i.prefix_len());
    if prefix_len == 0 {
        let members: Vec<RegionMember> = inputs
            .iter()
            .enumerate()
            .filter_map(|(i, input)| {
                let rgs: Vec<usize> = input
                    .row_groups
                    .iter()
                    .filter(|rg| rg.rows > 0)
                    .map(|rg| rg.index)
                    .collect();
                (!rgs.is_empty()).then(|| RegionMember {
                    input: i,
                    row_groups: rgs,
                    rows: input.num_rows(),
                })
            })
            .collect();
        if members.is_empty() {
            return Vec::new();
        }
        return vec![Region {
            key: PrefixKey::default(),
            values: Vec::new(),
            rows: members.iter().map(|m| m.rows).sum(),
            bytes: inputs
                .iter()
                .flat_map(|i| &i.row_groups)
                .map(|rg| rg.bytes)
                .sum(),
            members,
        }];
    }
    let mut regions: BTreeMap<PrefixKey, Region> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        for rg in input.row_groups.iter().filter(|rg| rg.rows > 0) {
            let Some(prefix) = &rg.prefix else { continue };
            let region = regions.entry(prefix.key.clone()).or_insert_with(|| Region {
                key: prefix.key.clone(),
                values: prefix.values.clone(),
                members: Vec::new(),
                rows: 0,
                bytes: 0,
            });
            region.members.push(RegionMember {
                input: i,
                row_groups: vec![rg.index],
                rows: rg.rows,
            });
            region.rows += rg.rows;
            region.bytes += rg.bytes;
        }
    }
    regions.into_values().collect()
}
