//! Regions: one per distinct prefix key, each listing the row groups of every input
//! that hold it. With P = 0 the whole data set is one region.

use crate::input::{InputFile, VirtualRegion};
use crate::key::{KeyValue, PrefixKey};
use std::collections::BTreeMap;

/// The rows one input contributes to a region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionMember {
    /// Index of the input in the merge's input list.
    pub input: usize,
    /// Row groups of that input, in file order.
    pub row_groups: Vec<usize>,
    /// Rows to skip at the start of the first row group (virtual regions of the
    /// legacy adapter start mid row group).
    pub skip_rows: u64,
    /// Rows read after the skip.
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
    /// Rows of the region, over all members.
    pub rows: u64,
    /// Compressed input bytes of the region.
    pub bytes: u64,
}

/// Group the rows of validated inputs into regions in key order. With
/// `prefix_len` = 0 everything is one region; otherwise an input with virtual
/// regions (from the legacy adapter) contributes those, any other input its row
/// groups (whose prefix keys the plan has validated).
pub fn build_regions(
    inputs: &[InputFile],
    prefix_len: usize,
    virtual_regions: &[Option<Vec<VirtualRegion>>],
) -> Vec<Region> {
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
                    skip_rows: 0,
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
    let mut add = |key: &PrefixKey, values: &[KeyValue], member: RegionMember, bytes: u64| {
        let region = regions.entry(key.clone()).or_insert_with(|| Region {
            key: key.clone(),
            values: values.to_vec(),
            members: Vec::new(),
            rows: 0,
            bytes: 0,
        });
        region.rows += member.rows;
        region.bytes += bytes;
        region.members.push(member);
    };
    for (i, input) in inputs.iter().enumerate() {
        if let Some(Some(vrs)) = virtual_regions.get(i) {
            let total_rows = input.num_rows().max(1);
            let total_bytes: u64 = input.row_groups.iter().map(|rg| rg.bytes).sum();
            for vr in vrs {
                let member = member_for_range(i, input, vr.first_row, vr.rows);
                let bytes = total_bytes * vr.rows / total_rows;
                add(&vr.key, &vr.values, member, bytes);
            }
            continue;
        }
        for rg in input.row_groups.iter().filter(|rg| rg.rows > 0) {
            let Some(prefix) = &rg.prefix else { continue };
            let member = RegionMember {
                input: i,
                row_groups: vec![rg.index],
                skip_rows: 0,
                rows: rg.rows,
            };
            add(&prefix.key, &prefix.values, member, rg.bytes);
        }
    }
    regions.into_values().collect()
}

/// The row groups covering rows `first .. first + rows` of `input`.
fn member_for_range(input_index: usize, input: &InputFile, first: u64, rows: u64) -> RegionMember {
    let end = first + rows;
    let mut start_of_rg = 0u64;
    let mut row_groups = Vec::new();
    let mut skip_rows = 0;
    for rg in &input.row_groups {
        let rg_end = start_of_rg + rg.rows;
        if rg.rows > 0 && rg_end > first && start_of_rg < end {
            if row_groups.is_empty() {
                skip_rows = first - start_of_rg;
            }
            row_groups.push(rg.index);
        }
        start_of_rg = rg_end;
    }
    RegionMember {
        input: input_index,
        row_groups,
        skip_rows,
        rows,
    }
}
