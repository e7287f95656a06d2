//! What the unit table takes from each survey table other than the buildings: per unit, a count
//! of records and sums of fields, as data. A table listed here reaches the unit table (and so any
//! model) by its clean records' units; each column carries its Chinese name, unit and meaning for
//! the data dictionary.

/// One column of the unit table made from one table's records.
#[derive(Debug, Clone, Copy)]
pub enum Figure {
    /// Records in the unit.
    Count {
        column: &'static str,
        zh: &'static str,
        unit: &'static str,
    },
    /// A field summed over the unit's records.
    Sum {
        field: &'static str,
        column: &'static str,
        zh: &'static str,
        unit: &'static str,
    },
    /// Records whose text field is one of `values`.
    CountOf {
        field: &'static str,
        values: &'static [&'static str],
        column: &'static str,
        zh: &'static str,
        unit: &'static str,
    },
}

impl Figure {
    pub fn column(&self) -> &'static str {
        match self {
            Figure::Count { column, .. }
            | Figure::Sum { column, .. }
            | Figure::CountOf { column, .. } => column,
        }
    }

    /// Chinese name and unit, for the data dictionary.
    pub fn label(&self) -> (&'static str, &'static str) {
        match self {
            Figure::Count { zh, unit, .. }
            | Figure::Sum { zh, unit, .. }
            | Figure::CountOf { zh, unit, .. } => (zh, unit),
        }
    }
}

const fn count(column: &'static str, zh: &'static str, unit: &'static str) -> Figure {
    Figure::Count { column, zh, unit }
}

const fn sum(
    field: &'static str,
    column: &'static str,
    zh: &'static str,
    unit: &'static str,
) -> Figure {
    Figure::Sum {
        field,
        column,
        zh,
        unit,
    }
}

/// Per table, its columns in the unit table, in order.
pub const FIGURES: &[(&str, &[Figure])] = &[
    // 承灾体: public-service facilities (exposure of people who gather).
    (
        "czt_xx",
        &[
            count("n_schools", "学校数", "所"),
            sum("zxsrs", "students", "在校生数", "人"),
        ],
    ),
    (
        "czt_ylwsjg",
        &[
            count("n_medical", "医疗卫生机构数", "个"),
            sum("syzycws", "hospital_beds", "实有住院床位数", "张"),
        ],
    ),
    (
        "czt_shfljg",
        &[
            count("n_welfare", "提供住宿的社会服务机构数", "个"),
            sum("nmcws", "welfare_beds", "社会服务机构床位数", "张"),
        ],
    ),
    (
        "czt_ggwhcs",
        &[
            count("n_culture_venues", "公共文化场所数", "个"),
            sum("zxs", "culture_venue_seats", "公共文化场所坐席数", "个"),
        ],
    ),
    (
        "czt_lyjq",
        &[
            count("n_scenic_areas", "旅游景区数", "个"),
            sum(
                "sszdczl",
                "scenic_peak_visitors",
                "景区瞬时最大承载量",
                "人",
            ),
        ],
    ),
    (
        "czt_xjjd",
        &[
            count("n_star_hotels", "星级饭店数", "家"),
            sum("cws", "hotel_beds", "星级饭店床位数", "张"),
        ],
    ),
    (
        "czt_tycg",
        &[
            count("n_stadiums", "体育场馆数", "个"),
            sum("gzxw", "stadium_seats", "体育场馆观众席位", "个"),
        ],
    ),
    (
        "czt_zjhdcs",
        &[
            count("n_religious_sites", "宗教活动场所数", "处"),
            sum(
                "jrrs",
                "religious_festival_people",
                "宗教活动场所节日人数",
                "人",
            ),
        ],
    ),
    (
        "czt_jysc",
        &[
            count("n_markets", "大型超市、百货店和商品交易市场数", "个"),
            sum("rzdrll", "market_peak_visitors", "市场日最大人流量", "人"),
        ],
    ),
    (
        "xzjd_rkjj",
        &[
            sum("czrk", "population", "常住人口", "人"),
            sum("nmzhs", "households", "户数", "户"),
            sum("gdp", "gdp_10k_yuan", "地区生产总值", "万元"),
            sum("czhrk", "urban_population", "城镇人口", "人"),
        ],
    ),
    // 综合减灾资源: capacity.
    (
        "zhjzzy_jc_xzzy",
        &[
            sum(
                "bjzhyjbn_1",
                "shelter_capacity",
                "乡镇报告的避难场所容量",
                "人",
            ),
            sum("bjzhyjbncs", "shelters", "乡镇报告的避难场所数量", "个"),
            sum("bjzhglgzry", "disaster_staff", "灾害管理工作人员", "人"),
            sum("bjzhxxyrs", "information_officers", "灾害信息员", "人"),
            sum(
                "xycbwzzbzh",
                "relief_stock_10k_yuan",
                "储备物资装备折合金额",
                "万元",
            ),
            sum("bjcbdjzwzz", "relief_items", "储备点物资装备数量", "件"),
            sum(
                "syndfzjzjz",
                "disaster_funding_10k_yuan",
                "上一年度防灾减灾救灾资金",
                "万元",
            ),
        ],
    ),
    (
        "zhjzzy_zf_yjblcs",
        &[
            count("n_emergency_shelters", "应急避难场所数", "个"),
            sum(
                "bnsrnrs",
                "emergency_shelter_capacity",
                "应急避难场所容纳人数",
                "人",
            ),
            sum(
                "yjbncszdmj",
                "emergency_shelter_area_m2",
                "应急避难场所占地面积",
                "m²",
            ),
        ],
    ),
    (
        "zhjzzy_zf_jzwz",
        &[
            count("n_relief_stores", "救灾物资储备库（点）数", "个"),
            sum("yxkr", "relief_store_volume_m3", "储备库有效库容", "m³"),
        ],
    ),
    (
        "zhjzzy_zf_zzjydw",
        &[
            count("n_fire_rescue_teams", "消防救援队伍数", "支"),
            sum("dwzrs", "fire_rescue_staff", "消防救援队伍人数", "人"),
            sum("xfcsl", "fire_engines", "消防车数量", "辆"),
        ],
    ),
    (
        "zhjzzy_zf_xfdwzb",
        &[
            count("n_forest_fire_teams", "森林消防队伍数", "支"),
            sum("dwzrs", "forest_fire_staff", "森林消防队伍人数", "人"),
            sum("fhccsl", "forest_fire_vehicles", "防火车（船）数量", "辆"),
        ],
    ),
    (
        "zhjzzy_zf_zfzhglnl",
        &[
            count("n_departments", "填报灾害管理能力的政府部门数", "个"),
            sum(
                "zhglryzs",
                "department_disaster_staff",
                "政府部门灾害管理人员",
                "人",
            ),
        ],
    ),
    (
        "zhjzzy_jc_sqzy",
        &[
            count(
                "n_villages_reported",
                "填报减灾资源的社区（行政村）数",
                "个",
            ),
            sum(
                "bjzhyjbn_1",
                "village_shelter_capacity",
                "社区（行政村）避难场所容量",
                "人",
            ),
            sum("djzczyzrs", "registered_volunteers", "登记注册志愿者", "人"),
        ],
    ),
    (
        "zhjzzy_qysh_shzy",
        &[
            count("n_social_forces", "社会应急力量数", "支"),
            sum(
                "zzczyzsl",
                "social_force_staff",
                "社会应急力量专职人员",
                "人",
            ),
        ],
    ),
    // 重点隐患: hidden dangers by class, with the people they put at risk.
    (
        "dzzhyhd",
        &[
            count("n_geohazard", "地质灾害隐患点数", "处"),
            Figure::CountOf {
                field: "xqdj",
                values: &["大型", "特大型"],
                column: "n_geohazard_large",
                zh: "大型及以上地质灾害隐患点数",
                unit: "处",
            },
            Figure::CountOf {
                field: "xqdj",
                values: &["中型"],
                column: "n_geohazard_medium",
                zh: "中型地质灾害隐患点数",
                unit: "处",
            },
            sum(
                "wxrsr",
                "geohazard_threatened_people",
                "地质灾害威胁人数",
                "人",
            ),
        ],
    ),
    (
        "zdyh_dxks",
        &[
            count("n_underground_mines", "地下矿山数", "座"),
            sum(
                "dbzdzgrs",
                "underground_mine_shift_workers",
                "地下矿山单班最大在岗人数",
                "人",
            ),
        ],
    ),
    (
        "zdyh_ltks",
        &[
            count("n_open_pit_mines", "露天矿山数", "座"),
            sum(
                "dbzdzgrs",
                "open_pit_mine_shift_workers",
                "露天矿山单班最大在岗人数",
                "人",
            ),
        ],
    ),
    (
        "zdyh_wkk",
        &[
            count("n_tailings_ponds", "尾矿库数", "座"),
            Figure::CountOf {
                field: "sftdk",
                values: &["是"],
                column: "n_tailings_ponds_above_people",
                zh: "头顶库数",
                unit: "座",
            },
            sum(
                "xy1kmnzrs",
                "tailings_people_downstream",
                "尾矿库下游1公里内人数",
                "人",
            ),
        ],
    ),
    (
        "zdyh_jyjqz",
        &[count("n_fuel_stations", "加油加气加氢站数", "座")],
    ),
    (
        "zdyh_wxhxpqy",
        &[
            count("n_hazchem_firms", "危险化学品企业数", "家"),
            sum(
                "zddbrysl",
                "hazchem_shift_workers",
                "危化企业最大当班人数",
                "人",
            ),
            sum(
                "yjzdwxysl",
                "major_hazards_level1",
                "一级重大危险源数",
                "个",
            ),
            sum(
                "ejzdwxysl",
                "major_hazards_level2",
                "二级重大危险源数",
                "个",
            ),
            sum(
                "sjzdwxysl",
                "major_hazards_level3",
                "三级重大危险源数",
                "个",
            ),
            sum(
                "sjzdwxysl4",
                "major_hazards_level4",
                "四级重大危险源数",
                "个",
            ),
        ],
    ),
    // 历史灾害: losses on the unit the record's division code names (a township's history on
    // township units, a county's on county units); a path to a historic loss rate, as FEMA NRI's
    // historic loss ratio: hist_direct_loss_10k_yuan / years / gdp_10k_yuan.
    (
        "lszh_ndzrzh",
        &[
            count("n_annual_disaster_rows", "年度灾情记录数", "条"),
            sum("szrk", "hist_affected_people", "历年受灾人口", "人次"),
            sum("swrk", "hist_deaths", "历年死亡人口", "人"),
            sum("sz", "hist_missing", "历年失踪人口", "人"),
            sum("dtfw", "hist_collapsed_rooms", "历年倒塌房屋", "间"),
            sum(
                "zjjjss",
                "hist_direct_loss_10k_yuan",
                "历年直接经济损失",
                "万元",
            ),
        ],
    ),
    (
        "lszh_lszdzhsj",
        &[
            count("n_major_disasters", "历史重大灾害事件数", "次"),
            sum(
                "swrk",
                "major_disaster_deaths",
                "历史重大灾害死亡人口",
                "人",
            ),
            sum(
                "zjjjss",
                "major_disaster_loss_10k_yuan",
                "历史重大灾害直接经济损失",
                "万元",
            ),
        ],
    ),
];

/// The figures of a table, if it reaches the unit table this way.
pub fn figures_of(table: &str) -> Option<&'static [Figure]> {
    FIGURES.iter().find(|(t, _)| *t == table).map(|(_, f)| *f)
}

/// A column made by some table's figures, with its table.
pub fn figure_column(column: &str) -> Option<(&'static str, &'static Figure)> {
    FIGURES
        .iter()
        .find_map(|(t, fs)| fs.iter().find(|f| f.column() == column).map(|f| (*t, f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every figure reads a field its table's schema has, of a number type for sums, and no two
    /// figures make the same column.
    #[test]
    fn figures_read_fields_the_schemas_have() {
        let set = riskcensus_schema::SchemaSet::builtin().unwrap();
        let mut columns = std::collections::BTreeSet::new();
        for (table, figures) in FIGURES {
            let schema = set
                .table(table)
                .unwrap_or_else(|| panic!("no table {table}"));
            for f in *figures {
                assert!(columns.insert(f.column()), "{} twice", f.column());
                match f {
                    Figure::Count { .. } => {}
                    Figure::Sum { field, .. } => {
                        let ty = schema
                            .field(field)
                            .unwrap_or_else(|| panic!("{table}.{field}"))
                            .ty;
                        assert!(
                            matches!(
                                ty,
                                riskcensus_schema::FieldType::Int
                                    | riskcensus_schema::FieldType::Float
                            ),
                            "{table}.{field} is {ty:?}"
                        );
                    }
                    Figure::CountOf { field, .. } => {
                        assert!(schema.field(field).is_some(), "{table}.{field}");
                    }
                }
            }
        }
    }
}
