//! The census tables the generator writes: their columns and how a clean record of each is made.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use riskcensus_schema::census_fields;

use crate::county::{County, TownshipKind};
use crate::names;
use crate::table::{BadValue, Cell, Column, Kind, Roles, RowBuilder, TableSpec, excel_serial};

/// Code of the buildings table (房屋建筑; the census surveyed buildings in a separate system with no
/// published table code, so the project names it by its pinyin initials).
pub const BUILDINGS: &str = "fwjz";
/// Township population and economy (乡镇街道人口与经济), no census code either.
pub const POPULATION: &str = "xzjd_rkjj";
/// Township boundaries (行政区划·乡镇).
pub const TOWNSHIPS: &str = "xzqh_xz";

fn col(code: &str, label: &str, group: &str, kind: Kind) -> Column {
    Column {
        code: code.to_owned(),
        label: label.to_owned(),
        group: group.to_owned(),
        kind,
    }
}

fn roles(spec: &TableSpec, f: impl FnOnce(&dyn Fn(&str) -> usize) -> Roles) -> Roles {
    let idx = |code: &str| {
        spec.index(code)
            .unwrap_or_else(|| panic!("{} has no field {code}", spec.code))
    };
    f(&idx)
}

fn finish(mut spec: TableSpec, f: impl FnOnce(&dyn Fn(&str) -> usize) -> Roles) -> TableSpec {
    spec.roles = roles(&spec, f);
    spec
}

pub fn buildings_spec() -> TableSpec {
    let columns = vec![
        col("fwbh", "房屋编号", "基本信息", Kind::Text),
        col("xzqdm", "乡镇（街道）代码", "基本信息", Kind::Text),
        col("cjdm", "村（社区）代码", "基本信息", Kind::Text),
        col("dz", "详细地址", "基本信息", Kind::Text),
        col("jzmc", "建筑名称", "基本信息", Kind::Text),
        col("lon", "经度", "位置", Kind::Float),
        col("lat", "纬度", "位置", Kind::Float),
        col("jglx", "结构类型", "建筑信息", Kind::Text),
        col("dscs", "地上层数", "建筑信息", Kind::Int),
        col("jzgd", "建筑高度（米）", "建筑信息", Kind::Float),
        col("jzmj", "建筑面积（平方米）", "建筑信息", Kind::Float),
        col("jcnd", "建成年份", "建筑信息", Kind::Int),
        col("fwyt", "房屋用途", "建筑信息", Kind::Text),
        col("kzsf", "是否抗震设防", "抗震与安全", Kind::Text),
        col("kzjg", "是否抗震加固", "抗震与安全", Kind::Text),
        col("bxss", "有无明显变形损伤", "抗震与安全", Kind::Text),
        col("czrk", "常住人口（人）", "其他", Kind::Int),
        col("dcrq", "调查日期", "其他", Kind::Date),
    ];
    let spec = TableSpec {
        code: BUILDINGS.into(),
        name_zh: "房屋建筑调查表".into(),
        file_stem: BUILDINGS.into(),
        sheet: "房屋建筑".into(),
        columns,
        roles: Roles::default(),
    };
    finish(spec, |i| Roles {
        id: Some(i("fwbh")),
        township: Some(i("xzqdm")),
        village: Some(i("cjdm")),
        lon: Some(i("lon")),
        lat: Some(i("lat")),
        required: vec![i("jglx"), i("dscs"), i("jzmj"), i("jcnd"), i("fwyt")],
        free_text: vec![i("dz"), i("jzmc")],
        date: Some(i("dcrq")),
        ranges: vec![
            (i("dscs"), BadValue::Zero),
            (i("jcnd"), BadValue::FutureYear),
        ],
    })
}

pub fn building_id(county: &str, k: usize) -> String {
    format!("{county}{:09}", k + 1)
}

const STRUCTURES: &[&str] = &[
    "砖混结构",
    "钢筋混凝土结构",
    "钢结构",
    "砌体结构",
    "底部框架-抗震墙砌体结构",
    "木(竹)结构",
    "土木结构",
    "石木结构",
    "混杂结构",
    "其他",
];

/// A clean building record, its township and its point.
pub fn building(
    county: &County,
    k: usize,
    reference_year: i32,
    rng: &mut ChaCha8Rng,
    spec: &TableSpec,
) -> (Vec<Cell>, usize, (f64, f64)) {
    let t = county.sample_township(rng);
    let town = &county.townships[t];
    let p = county.point_in(t, rng);
    let village = county.village_at(t, p.0, p.1);
    let x: f64 = rng.random();
    let usage = match town.kind {
        TownshipKind::Subdistrict => {
            if x < 0.72 {
                "城镇住宅"
            } else {
                "城镇非住宅"
            }
        }
        TownshipKind::Town => {
            if x < 0.22 {
                "城镇住宅"
            } else if x < 0.32 {
                "城镇非住宅"
            } else if x < 0.88 {
                "农村住宅"
            } else {
                "农村非住宅"
            }
        }
        _ => {
            if x < 0.85 {
                "农村住宅"
            } else {
                "农村非住宅"
            }
        }
    };
    let urban = usage.starts_with("城镇");
    let year = if urban {
        rng.random_range(1975..=reference_year)
    } else {
        rng.random_range(1955..=reference_year)
    };
    let y: f64 = rng.random();
    let structure = if urban {
        if y < 0.55 {
            STRUCTURES[1]
        } else if y < 0.85 {
            STRUCTURES[0]
        } else if y < 0.92 {
            STRUCTURES[2]
        } else {
            STRUCTURES[4]
        }
    } else if year < 1990 {
        if y < 0.35 {
            STRUCTURES[6]
        } else if y < 0.5 {
            STRUCTURES[7]
        } else if y < 0.6 {
            STRUCTURES[5]
        } else if y < 0.9 {
            STRUCTURES[0]
        } else {
            STRUCTURES[8]
        }
    } else if y < 0.6 {
        STRUCTURES[0]
    } else if y < 0.8 {
        STRUCTURES[3]
    } else if y < 0.95 {
        STRUCTURES[1]
    } else {
        STRUCTURES[9]
    };
    let floors: i64 = match structure {
        "钢筋混凝土结构" => {
            if urban {
                rng.random_range(3..=33)
            } else {
                rng.random_range(2..=6)
            }
        }
        "钢结构" => rng.random_range(1..=12),
        "砖混结构" | "底部框架-抗震墙砌体结构" | "砌体结构" => {
            rng.random_range(1..=7)
        }
        _ => rng.random_range(1..=2),
    };
    let storey = if usage.ends_with("非住宅") {
        3.6
    } else {
        2.9
    };
    let height = ((floors as f64 * storey + rng.random_range(0.2..1.5)) * 10.0).round() / 10.0;
    let footprint: f64 = if urban {
        rng.random_range(150.0..900.0)
    } else {
        rng.random_range(60.0..220.0)
    };
    let area = (footprint * floors as f64 * 100.0).round() / 100.0;
    let fortified = if year >= 2008
        || (urban && year >= 1990 && rng.random_bool(0.7))
        || rng.random_bool(0.2)
    {
        "是"
    } else {
        "否"
    };
    let retrofit = if fortified == "否" && rng.random_bool(0.06) {
        "是"
    } else {
        "否"
    };
    let damage = if year < 1990 && rng.random_bool(0.12) {
        "有"
    } else {
        "无"
    };
    let residents = if usage.ends_with("非住宅") {
        0
    } else {
        (area / rng.random_range(30.0..60.0)).round().max(1.0) as i64
    };
    let name = if !urban || usage == "城镇住宅" && rng.random_bool(0.6) {
        String::new()
    } else if usage == "城镇住宅" {
        format!(
            "{}{}小区{}栋",
            county.short_name(t),
            names::short_village(&village.name),
            rng.random_range(1..30)
        )
    } else {
        format!(
            "{}{}",
            names::short_village(&village.name),
            ["综合楼", "办公楼", "商业楼", "厂房", "仓库", "门面房"][rng.random_range(0..6)]
        )
    };
    let address = if urban {
        format!(
            "{}{}{}{}号",
            county.name,
            town.name,
            names::road(rng),
            rng.random_range(1..400)
        )
    } else {
        format!(
            "{}{}{}{}组{}号",
            county.name,
            town.name,
            village.name,
            rng.random_range(1..12),
            rng.random_range(1..120)
        )
    };
    let month = rng.random_range(1..=12);
    let day = rng.random_range(1..=28);
    let mut b = RowBuilder::new(spec);
    b.set("fwbh", Cell::Text(building_id(&county.code, k)))
        .set("xzqdm", Cell::Text(town.code.clone()))
        .set("cjdm", Cell::Text(village.code.clone()))
        .set("dz", Cell::Text(address))
        .set("jzmc", Cell::Text(name))
        .set("lon", Cell::Num(p.0))
        .set("lat", Cell::Num(p.1))
        .set("jglx", Cell::text(structure))
        .set("dscs", Cell::Int(floors))
        .set("jzgd", Cell::Num(height))
        .set("jzmj", Cell::Num(area))
        .set("jcnd", Cell::Int(year as i64))
        .set("fwyt", Cell::text(usage))
        .set("kzsf", Cell::text(fortified))
        .set("kzjg", Cell::text(retrofit))
        .set("bxss", Cell::text(damage))
        .set("czrk", Cell::Int(residents))
        .set(
            "dcrq",
            Cell::Date(excel_serial(reference_year + 1, month, day)),
        );
    (b.finish(), t, p)
}

/// Columns of a census table from the dictionary, each code once, with labels corrected where the
/// dictionary is known to be wrong, and `extra` columns appended.
fn census_columns(table: &str, groups: &[(&str, &str)], extra: &[Column]) -> Vec<Column> {
    let mut out: Vec<Column> = Vec::new();
    let mut group = groups.first().map(|g| g.1).unwrap_or("基本信息");
    for f in census_fields::fields(table) {
        if f.code.is_empty() || out.iter().any(|c| c.code == f.code) {
            continue;
        }
        if let Some(g) = groups.iter().find(|g| g.0 == f.code) {
            group = g.1;
        }
        let label = match (table, f.code.as_str()) {
            ("dzzhyhd", "lon") => "经度".to_owned(),
            ("dzzhyhd", "lat") => "纬度".to_owned(),
            _ => f.name_zh.clone(),
        };
        out.push(Column {
            code: f.code.clone(),
            label,
            group: group.to_owned(),
            kind: Kind::Text,
        });
    }
    out.extend_from_slice(extra);
    out
}

fn set_kinds(columns: &mut [Column], kind: Kind, codes: &[&str]) {
    for c in columns.iter_mut() {
        if codes.contains(&c.code.as_str()) {
            c.kind = kind;
        }
    }
}

fn location_columns() -> Vec<Column> {
    vec![
        col("xzqdm", "乡镇（街道）代码", "位置", Kind::Text),
        col("lon", "经度", "位置", Kind::Float),
        col("lat", "纬度", "位置", Kind::Float),
    ]
}

pub fn schools_spec() -> TableSpec {
    let mut columns = census_columns(
        "czt_xx",
        &[
            ("xxjgmc", "基本信息"),
            ("zdmj", "规模与资产"),
            ("sfyxyywssy", "安全与应急保障"),
            ("dwfzr", "填报信息"),
        ],
        &location_columns(),
    );
    set_kinds(
        &mut columns,
        Kind::Float,
        &[
            "zdmj",
            "xsjzmj",
            "gdzcyz",
            "gdzchj",
            "jxkyyqsbzc",
            "jsyfjzmj",
            "tygjzmj",
            "xsssgyjzmj",
            "swydcdmj",
        ],
    );
    set_kinds(
        &mut columns,
        Kind::Int,
        &[
            "wyyssbtts",
            "jzgs",
            "zxsrs",
            "jssrs",
            "wgjxsrs",
            "fsjxbrs",
            "jss",
            "zzxyrs",
            "aqbwrysl",
        ],
    );
    set_kinds(&mut columns, Kind::Date, &["bcri"]);
    let spec = TableSpec {
        code: "czt_xx".into(),
        name_zh: "学校调查表".into(),
        file_stem: "czt_xx".into(),
        sheet: "学校".into(),
        columns,
        roles: Roles::default(),
    };
    finish(spec, |i| Roles {
        id: Some(i("qgtyshxydm")),
        township: Some(i("xzqdm")),
        village: None,
        lon: Some(i("lon")),
        lat: Some(i("lat")),
        required: vec![i("xxjgmc"), i("xxjgbxlxdl"), i("zxsrs"), i("jzgs")],
        free_text: vec![i("xxjgmc"), i("dz")],
        date: Some(i("bcri")),
        ranges: vec![
            (i("zxsrs"), BadValue::Negative),
            (i("jzgs"), BadValue::Negative),
        ],
    })
}

pub fn medical_spec() -> TableSpec {
    let mut columns = census_columns(
        "czt_ylwsjg",
        &[
            ("ylwsjgmc", "基本信息"),
            ("zdmj", "规模与资产"),
            ("aqbwrysl", "安全与应急保障"),
            ("dwfzr", "填报信息"),
        ],
        &location_columns(),
    );
    set_kinds(
        &mut columns,
        Kind::Float,
        &["zdmj", "fwjzmj", "gdzcyz", "gdzchj", "wyyssbzjz"],
    );
    set_kinds(
        &mut columns,
        Kind::Int,
        &[
            "wyyssbts",
            "zgzgrs",
            "wsjsryzs",
            "zchrs",
            "gqjgrys",
            "ndryrs",
            "ndcyrs",
            "syzycws",
            "fybfcws",
            "zzjqhlbfIC",
            "jjzhcsl",
            "yzxjjcsl",
            "jhxjjcsl",
            "fyjjcsl",
            "cxcs",
            "sxcs",
            "aqbwrysl",
        ],
    );
    set_kinds(&mut columns, Kind::Date, &["bcri"]);
    let spec = TableSpec {
        code: "czt_ylwsjg".into(),
        name_zh: "医疗卫生机构调查表".into(),
        file_stem: "czt_ylwsjg".into(),
        sheet: "医疗卫生机构".into(),
        columns,
        roles: Roles::default(),
    };
    finish(spec, |i| Roles {
        id: Some(i("qgtyshxydm")),
        township: Some(i("xzqdm")),
        village: None,
        lon: Some(i("lon")),
        lat: Some(i("lat")),
        required: vec![i("ylwsjgmc"), i("yljglxd"), i("syzycws")],
        free_text: vec![i("ylwsjgmc"), i("dz")],
        date: Some(i("bcri")),
        ranges: vec![(i("syzycws"), BadValue::Negative)],
    })
}

pub fn population_spec() -> TableSpec {
    let columns = vec![
        col("xzqdm", "乡镇（街道）代码", "行政区划", Kind::Text),
        col("xzqmc", "乡镇（街道）名称", "行政区划", Kind::Text),
        col("nmzhs", "年末总户数（户）", "人口", Kind::Int),
        col("hjrk", "户籍人口（人）", "人口", Kind::Int),
        col("czrk", "常住人口（人）", "人口", Kind::Int),
        col("czhrk", "城镇常住人口（人）", "人口", Kind::Int),
        col("gdp", "地区生产总值（万元）", "经济", Kind::Float),
        col("dycy", "第一产业增加值（万元）", "经济", Kind::Float),
        col("decy", "第二产业增加值（万元）", "经济", Kind::Float),
        col("dscy", "第三产业增加值（万元）", "经济", Kind::Float),
        col("xzmj", "行政区域面积（平方千米）", "经济", Kind::Float),
        col("tjnd", "统计年度", "经济", Kind::Int),
    ];
    let spec = TableSpec {
        code: POPULATION.into(),
        name_zh: "乡镇（街道）人口与经济统计表".into(),
        file_stem: POPULATION.into(),
        sheet: "人口与经济".into(),
        columns,
        roles: Roles::default(),
    };
    finish(spec, |i| Roles {
        id: None,
        township: Some(i("xzqdm")),
        village: None,
        lon: None,
        lat: None,
        required: vec![i("czrk"), i("gdp")],
        free_text: vec![i("xzqmc")],
        date: None,
        ranges: vec![(i("czrk"), BadValue::Negative)],
    })
}

pub fn resources_spec() -> TableSpec {
    let mut columns = census_columns(
        "zhjzzy_jc_xzzy",
        &[
            ("xzjdmc", "基本信息"),
            ("yxxzjddzyz", "灾害管理"),
            ("jzwzcbfs", "物资与避难"),
            ("dwfzr", "填报信息"),
        ],
        &[col("xzqdm", "乡镇（街道）代码", "位置", Kind::Text)],
    );
    set_kinds(&mut columns, Kind::Float, &["syndfzjzjz", "xycbwzzbzh"]);
    set_kinds(
        &mut columns,
        Kind::Int,
        &[
            "nmzhs",
            "czrksl",
            "bjzhglgzry",
            "bjzhxxyrs",
            "j3nbzhxdzr",
            "j3nzdzrzhq",
            "syndzzdyjg",
            "syndzzdy_1",
            "bjjzwzzbcb",
            "bjcbdjzwzz",
            "yjtxsbsl",
            "yjgssl",
            "yjylsbsl",
            "bjzhyjbncs",
            "bjzhyjbn_1",
        ],
    );
    set_kinds(&mut columns, Kind::Date, &["bcri"]);
    let spec = TableSpec {
        code: "zhjzzy_jc_xzzy".into(),
        name_zh: "乡镇（街道）减灾资源（能力）调查表".into(),
        file_stem: "zhjzzy_jc_xzzy".into(),
        sheet: "乡镇减灾资源".into(),
        columns,
        roles: Roles::default(),
    };
    finish(spec, |i| Roles {
        id: None,
        township: Some(i("xzqdm")),
        village: None,
        lon: None,
        lat: None,
        required: vec![i("xzjdmc"), i("czrksl"), i("bjzhyjbn_1")],
        free_text: vec![i("xzjdmc"), i("dz")],
        date: Some(i("bcri")),
        ranges: vec![
            (i("bjzhyjbn_1"), BadValue::Negative),
            (i("bjzhglgzry"), BadValue::Negative),
        ],
    })
}

pub fn hazard_points_spec() -> TableSpec {
    let mut columns = census_columns(
        "dzzhyhd",
        &[
            ("xh", "基本信息"),
            ("sz", "位置"),
            ("zhgm", "规模与险情"),
            ("yfys", "防治情况"),
            ("tbdw", "填报与审核"),
            ("jcrxm1", "监测人"),
        ],
        &[],
    );
    set_kinds(&mut columns, Kind::Float, &["lon", "lat", "zhgm", "wxccwy"]);
    set_kinds(&mut columns, Kind::Int, &["xh", "wxhsh", "wxrsr", "ysbnsn"]);
    set_kinds(&mut columns, Kind::Date, &["yhdfxsj"]);
    let spec = TableSpec {
        code: "dzzhyhd".into(),
        name_zh: "地质灾害隐患点调查表".into(),
        file_stem: "dzzhyhd".into(),
        sheet: "地质灾害隐患点".into(),
        columns,
        roles: Roles::default(),
    };
    finish(spec, |i| Roles {
        id: Some(i("yhdbh")),
        township: None,
        village: Some(i("xzqhgs")),
        lon: Some(i("lon")),
        lat: Some(i("lat")),
        required: vec![i("yhdlx"), i("xqdj"), i("wxrsr")],
        free_text: vec![i("yhdmc"), i("dlwz")],
        date: Some(i("yhdfxsj")),
        ranges: vec![(i("wxrsr"), BadValue::Negative)],
    })
}

/// A unified social credit code (统一社会信用代码) shape: 18 characters, unique per `k`, not a real one.
pub fn credit_code(county: &str, prefix: &str, k: usize) -> String {
    format!("{prefix}{county}MB{:08}", 10_000_000 + k * 7 + 3)
}

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn report_date(rng: &mut ChaCha8Rng, reference_year: i32) -> Cell {
    Cell::Date(excel_serial(
        reference_year + 1,
        rng.random_range(3..=9),
        rng.random_range(1..=28),
    ))
}

fn sign_off(b: &mut RowBuilder<'_>, rng: &mut ChaCha8Rng, reference_year: i32) {
    b.set("dwfzr", Cell::Text(names::person(rng)))
        .set("tjfzr", Cell::Text(names::person(rng)))
        .set("tbfzr", Cell::Text(names::person(rng)))
        .set("lxdh", Cell::Text(names::phone(rng)))
        .set("bcri", report_date(rng, reference_year));
}

/// A school in township `t`; `k` numbers the county's schools.
pub fn school(
    county: &County,
    t: usize,
    k: usize,
    reference_year: i32,
    rng: &mut ChaCha8Rng,
    spec: &TableSpec,
) -> (Vec<Cell>, (f64, f64)) {
    let town = &county.townships[t];
    let p = county.point_in(t, rng);
    let village = county.village_at(t, p.0, p.1);
    let (kind, students, name) = match (k % 5, town.kind) {
        (0, _) => (
            "小学",
            rng.random_range(200..1800),
            format!(
                "{}{}中心小学",
                county.short_name(t),
                if k > 5 { "第二" } else { "" }
            ),
        ),
        (1, TownshipKind::Subdistrict) => (
            "高级中学",
            rng.random_range(1200..3500),
            format!("{}第{}中学", county.name, k / 5 + 1),
        ),
        (1, _) => (
            "初级中学",
            rng.random_range(300..1500),
            format!("{}中学", county.short_name(t)),
        ),
        (2, _) => (
            "幼儿园",
            rng.random_range(60..400),
            format!(
                "{}{}幼儿园",
                county.short_name(t),
                names::short_village(&village.name)
            ),
        ),
        (3, _) => (
            "小学",
            rng.random_range(40..600),
            format!("{}小学", names::short_village(&village.name)),
        ),
        _ => (
            "九年一贯制学校",
            rng.random_range(300..1600),
            format!(
                "{}{}学校",
                county.short_name(t),
                names::short_village(&village.name)
            ),
        ),
    };
    let staff = (students as f64 / rng.random_range(11.0..19.0)).round() as i64 + 3;
    let area = (students as f64 * rng.random_range(14.0..30.0)).round();
    let mut b = RowBuilder::new(spec);
    b.set(
        "xxjgmc",
        Cell::Text(format!(
            "{name}{}",
            if k >= 5 * county.townships.len() {
                format!("（{}校区）", k)
            } else {
                String::new()
            }
        )),
    )
    .set("qgtyshxydm", Cell::Text(credit_code(&county.code, "12", k)))
    .set("dmlx", Cell::text("统一社会信用代码"))
    .set(
        "dz",
        Cell::Text(format!("{}{}{}", county.name, town.name, village.name)),
    )
    .set(
        "cyxxjgbsmm",
        Cell::Text(format!("21{}{:02}", &county.code[..6], k % 100)),
    )
    .set("xxjgbxlxdl", Cell::text(kind))
    .set("xxjgbxlxzl", Cell::text(kind))
    .set(
        "xxjgjbz",
        Cell::text(if rng.random_bool(0.9) {
            "地方教育部门"
        } else {
            "民办"
        }),
    )
    .set("zdmj", Cell::Num(area))
    .set(
        "xsjzmj",
        Cell::Num((area * rng.random_range(0.3..0.7)).round()),
    )
    .set(
        "gdzcyz",
        Cell::Num((students as f64 * rng.random_range(0.5..2.0) * 10.0).round() / 10.0),
    )
    .set("jzgs", Cell::Int(staff))
    .set("zxsrs", Cell::Int(students))
    .set(
        "jssrs",
        Cell::Int(if town.kind.is_urban() {
            0
        } else {
            students / rng.random_range(2..6)
        }),
    )
    .set("jss", Cell::Int(students / 40 + 1))
    .set(
        "sfyxyywssy",
        Cell::text(if students > 500 { "是" } else { "否" }),
    )
    .set("aqbwrysl", Cell::Int(rng.random_range(1..8)))
    .set("yjgdnl", Cell::text(pick(rng, &["有", "无"])))
    .set(
        "gsfs",
        Cell::text(pick(rng, &["市政供水", "自备水源", "市政供水"])),
    )
    .set(
        "yjtxbzfs",
        Cell::text(pick(rng, &["卫星电话", "对讲机", "无"])),
    )
    .set(
        "cjzsgdzrzh",
        Cell::text(pick(rng, &["无", "暴雨洪涝", "地震", "滑坡", "大风"])),
    )
    .set(
        "yyzrzhyjya",
        Cell::text(pick(rng, &["地震", "地震,洪涝", "地震,火灾", "综合预案"])),
    )
    .set("xzqdm", Cell::Text(town.code.clone()))
    .set("lon", Cell::Num(p.0))
    .set("lat", Cell::Num(p.1));
    sign_off(&mut b, rng, reference_year);
    (b.finish(), p)
}

/// A medical institution in township `t`; `k` numbers the county's institutions.
pub fn medical(
    county: &County,
    t: usize,
    k: usize,
    reference_year: i32,
    rng: &mut ChaCha8Rng,
    spec: &TableSpec,
) -> (Vec<Cell>, (f64, f64)) {
    let town = &county.townships[t];
    let p = county.point_in(t, rng);
    let village = county.village_at(t, p.0, p.1);
    let (major, minor, grade, beds, name) = if k < 2 {
        let (minor, name) = if k == 0 {
            ("综合医院", format!("{}人民医院", county.name))
        } else {
            ("中医医院", format!("{}中医医院", county.name))
        };
        (
            "医院",
            minor,
            if k == 0 {
                "二级甲等"
            } else {
                "二级乙等"
            },
            rng.random_range(200..800),
            name,
        )
    } else if k % 3 == 2 {
        (
            "基层医疗卫生机构",
            "村卫生室",
            "未定级",
            0,
            format!("{}{}卫生室", county.short_name(t), village.name),
        )
    } else if town.kind.is_urban() {
        (
            "基层医疗卫生机构",
            "社区卫生服务中心",
            "未定级",
            rng.random_range(0..40),
            format!("{}社区卫生服务中心", county.short_name(t)),
        )
    } else {
        (
            "基层医疗卫生机构",
            "乡镇卫生院",
            "一级",
            rng.random_range(10..80),
            format!("{}卫生院", town.name),
        )
    };
    let staff = (beds as f64 * rng.random_range(1.0..1.6)).round() as i64 + rng.random_range(2..12);
    let mut b = RowBuilder::new(spec);
    b.set(
        "ylwsjgmc",
        Cell::Text(if k >= 3 * county.townships.len() {
            format!("{name}（{k}）")
        } else {
            name
        }),
    )
    .set("qgtyshxydm", Cell::Text(credit_code(&county.code, "52", k)))
    .set("dmlx", Cell::text("统一社会信用代码"))
    .set(
        "dz",
        Cell::Text(format!("{}{}{}", county.name, town.name, village.name)),
    )
    .set(
        "ylwsjglxdm",
        Cell::text(if major == "医院" { "A100" } else { "B100" }),
    )
    .set("yljglxd", Cell::text(major))
    .set("yljglxzl", Cell::text(minor))
    .set("yydj", Cell::text(grade))
    .set(
        "yljgxz",
        Cell::text(if rng.random_bool(0.85) {
            "公立"
        } else {
            "非公立"
        }),
    )
    .set(
        "zdmj",
        Cell::Num((staff as f64 * rng.random_range(40.0..90.0)).round()),
    )
    .set(
        "fwjzmj",
        Cell::Num((staff as f64 * rng.random_range(25.0..60.0)).round()),
    )
    .set(
        "gdzcyz",
        Cell::Num((staff as f64 * rng.random_range(5.0..30.0) * 10.0).round() / 10.0),
    )
    .set("zgzgrs", Cell::Int(staff))
    .set("wsjsryzs", Cell::Int(staff * 4 / 5))
    .set("zchrs", Cell::Int(staff * 2 / 5))
    .set("syzycws", Cell::Int(beds))
    .set(
        "jjzhcsl",
        Cell::Int(if k < 2 { rng.random_range(1..4) } else { 0 }),
    )
    .set(
        "yzxjjcsl",
        Cell::Int(if beds > 0 { rng.random_range(0..3) } else { 0 }),
    )
    .set("aqbwrysl", Cell::Int(rng.random_range(0..10)))
    .set("yjgdnl", Cell::text(pick(rng, &["有", "无"])))
    .set("gsfs", Cell::text(pick(rng, &["市政供水", "自备水源"])))
    .set(
        "yjtxbzfs",
        Cell::text(pick(rng, &["卫星电话", "对讲机", "无"])),
    )
    .set(
        "cjzsgdzrzh",
        Cell::text(pick(rng, &["无", "暴雨洪涝", "地震", "滑坡"])),
    )
    .set(
        "yyzrzhyjya",
        Cell::text(pick(rng, &["地震", "综合预案", "地震,洪涝"])),
    )
    .set("xzqdm", Cell::Text(town.code.clone()))
    .set("lon", Cell::Num(p.0))
    .set("lat", Cell::Num(p.1));
    sign_off(&mut b, rng, reference_year);
    (b.finish(), p)
}

/// Township area in km² from its cells.
pub fn township_area_km2(county: &County, t: usize) -> f64 {
    let g = &county.grid;
    let lat = g.y0 + g.rows as f64 * g.cell / 2.0;
    let cell_km2 = (g.cell * 111.32 * lat.to_radians().cos()) * (g.cell * 110.57);
    county.townships[t].cells.len() as f64 * cell_km2
}

/// The population and economy row of township `t`, given its expected buildings and residents.
pub fn population(
    county: &County,
    t: usize,
    residents: f64,
    reference_year: i32,
    rng: &mut ChaCha8Rng,
    spec: &TableSpec,
) -> Vec<Cell> {
    let town = &county.townships[t];
    let pop = (residents * rng.random_range(0.95..1.1)).round().max(50.0) as i64;
    let urban_share = match town.kind {
        TownshipKind::Subdistrict => rng.random_range(0.9..1.0),
        TownshipKind::Town => rng.random_range(0.25..0.5),
        _ => rng.random_range(0.03..0.15),
    };
    let per_capita = match town.kind {
        TownshipKind::Subdistrict => rng.random_range(6.0..12.0),
        TownshipKind::Town => rng.random_range(3.5..7.0),
        _ => rng.random_range(2.0..4.5),
    };
    let gdp = (pop as f64 * per_capita * 10.0).round() / 10.0;
    let primary = if town.kind.is_urban() {
        rng.random_range(0.0..0.03)
    } else {
        rng.random_range(0.15..0.4)
    };
    let secondary = rng.random_range(0.2..0.45);
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    let mut b = RowBuilder::new(spec);
    b.set("xzqdm", Cell::Text(town.code.clone()))
        .set("xzqmc", Cell::Text(town.name.clone()))
        .set(
            "nmzhs",
            Cell::Int((pop as f64 / rng.random_range(2.6..3.3)).round() as i64),
        )
        .set(
            "hjrk",
            Cell::Int((pop as f64 * rng.random_range(0.9..1.15)).round() as i64),
        )
        .set("czrk", Cell::Int(pop))
        .set(
            "czhrk",
            Cell::Int((pop as f64 * urban_share).round() as i64),
        )
        .set("gdp", Cell::Num(gdp))
        .set("dycy", Cell::Num(r1(gdp * primary)))
        .set("decy", Cell::Num(r1(gdp * secondary)))
        .set("dscy", Cell::Num(r1(gdp * (1.0 - primary - secondary))))
        .set(
            "xzmj",
            Cell::Num(r1(township_area_km2(county, t) * 100.0) / 100.0),
        )
        .set("tjnd", Cell::Int(reference_year as i64));
    b.finish()
}

/// The disaster-reduction resources row of township `t`.
pub fn resources(
    county: &County,
    t: usize,
    residents: f64,
    reference_year: i32,
    rng: &mut ChaCha8Rng,
    spec: &TableSpec,
) -> Vec<Cell> {
    let town = &county.townships[t];
    let pop = residents.round().max(50.0) as i64;
    let shelters = rng.random_range(1..8);
    let mut b = RowBuilder::new(spec);
    b.set("xzjdmc", Cell::Text(town.name.clone()))
        .set(
            "dz",
            Cell::Text(format!(
                "{}{}{}{}号",
                county.name,
                town.name,
                names::road(rng),
                rng.random_range(1..200)
            )),
        )
        .set("nmzhs", Cell::Int((pop as f64 / 2.9).round() as i64))
        .set("czrksl", Cell::Int(pop))
        .set(
            "yxxzjddzyz",
            Cell::text(pick(
                rng,
                &[
                    "地震,洪涝,滑坡",
                    "洪涝,干旱",
                    "地震,森林火灾",
                    "滑坡,泥石流,暴雨",
                    "地震,大风,冰雹",
                ],
            )),
        )
        .set("bjzhglgzry", Cell::Int(rng.random_range(3..25)))
        .set("bjzhxxyrs", Cell::Int(rng.random_range(1..6)))
        .set("sfkzxzjdzh", Cell::text(pick(rng, &["是", "否"])))
        .set("sfyxzjdzhl", Cell::text(pick(rng, &["是", "否"])))
        .set(
            "zhyjxxjsfs",
            Cell::text(pick(rng, &["短信,电话", "广播,短信", "电话,微信"])),
        )
        .set(
            "zhyjxxcdss",
            Cell::text(pick(rng, &["广播,电话", "短信,上门通知", "微信群,广播"])),
        )
        .set(
            "zqxxsbss",
            Cell::text(pick(
                rng,
                &["国家自然灾害灾情管理系统", "电话", "系统,电话"],
            )),
        )
        .set("j3nbzhxdzr", Cell::Int(rng.random_range(0..5)))
        .set("j3nzdzrzhq", Cell::Int(rng.random_range(0..6)))
        .set("syndzzdyjg", Cell::Int(rng.random_range(0..12)))
        .set("syndzzdy_1", Cell::Int(rng.random_range(0..900)))
        .set(
            "xzjdzhjzgz",
            Cell::text(pick(rng, &["纳入本级财政预算", "上级拨付", "未保障"])),
        )
        .set(
            "syndfzjzjz",
            Cell::Num((rng.random_range(2.0..120.0) * 10.0f64).round() / 10.0),
        )
        .set(
            "jzwzcbfs",
            Cell::text(pick(rng, &["实物储备", "协议储备", "实物储备,协议储备"])),
        )
        .set("bjjzwzzbcb", Cell::Int(rng.random_range(0..4)))
        .set("bjcbdjzwzz", Cell::Int(rng.random_range(0..3000)))
        .set("yjtxsbsl", Cell::Int(rng.random_range(0..20)))
        .set("yjgssl", Cell::Int(rng.random_range(0..6)))
        .set("yjylsbsl", Cell::Int(rng.random_range(0..10)))
        .set(
            "xycbwzzbzh",
            Cell::Num((rng.random_range(1.0..80.0) * 10.0f64).round() / 10.0),
        )
        .set("bjzhyjbncs", Cell::Int(shelters))
        .set(
            "bjzhyjbn_1",
            Cell::Int((pop as f64 * rng.random_range(0.05..0.4)).round() as i64),
        )
        .set("xzqdm", Cell::Text(town.code.clone()));
    sign_off(&mut b, rng, reference_year);
    b.finish()
}

/// A geological hazard point (地质灾害隐患点) at `p` in township `t`.
pub fn hazard_point(
    county: &County,
    t: usize,
    p: (f64, f64),
    k: usize,
    reference_year: i32,
    rng: &mut ChaCha8Rng,
    spec: &TableSpec,
) -> Vec<Cell> {
    let town = &county.townships[t];
    let village = county.village_at(t, p.0, p.1);
    let kind = pick(
        rng,
        &[
            "滑坡",
            "滑坡",
            "滑坡",
            "崩塌",
            "泥石流",
            "地面塌陷",
            "不稳定斜坡",
        ],
    );
    let (level, people) = match rng.random_range(0..10) {
        0..=5 => ("小型", rng.random_range(5..100)),
        6..=8 => ("中型", rng.random_range(100..500)),
        _ => ("大型", rng.random_range(500..1500)),
    };
    let volume: f64 = match level {
        "小型" => rng.random_range(1_000.0..100_000.0),
        "中型" => rng.random_range(100_000.0..1_000_000.0),
        _ => rng.random_range(1_000_000.0..10_000_000.0),
    };
    let mut b = RowBuilder::new(spec);
    b.set("xh", Cell::Int(k as i64 + 1))
        .set("yhdbh", Cell::Text(format!("{}{:06}", county.code, k + 1)))
        .set(
            "yhdmc",
            Cell::Text(format!(
                "{}{}{kind}",
                names::short_village(&village.name),
                pick(rng, &["后山", "组", "沟", "坡", "岭"])
            )),
        )
        .set("yhdlx", Cell::text(kind))
        .set(
            "fzqs",
            Cell::text(pick(rng, &["稳定", "基本稳定", "不稳定"])),
        )
        .set("sz", Cell::Text(county.prefecture.clone()))
        .set("qx", Cell::Text(county.name.clone()))
        .set("xz", Cell::Text(town.name.clone()))
        .set("xzqhgs", Cell::Text(village.code.clone()))
        .set("c", Cell::Text(village.name.clone()))
        .set("z", Cell::Text(format!("{}组", rng.random_range(1..12))))
        .set(
            "dlwz",
            Cell::Text(format!("{}{}{}", county.name, town.name, village.name)),
        )
        .set("lon", Cell::Num(p.0))
        .set("lat", Cell::Num(p.1))
        .set("zhgm", Cell::Num(volume.round()))
        .set("gmdj", Cell::text(level))
        .set("xqdj", Cell::text(level))
        .set(
            "wxccwy",
            Cell::Num((people as f64 * rng.random_range(3.0..12.0)).round()),
        )
        .set("wxhsh", Cell::Int(people / 3 + 1))
        .set("wxrsr", Cell::Int(people))
        .set(
            "yhdfxsj",
            Cell::Date(excel_serial(
                rng.random_range(2000..=reference_year),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            )),
        )
        .set(
            "yfys",
            Cell::text(pick(rng, &["降雨", "降雨,人类工程活动", "地震", "冻融"])),
        )
        .set(
            "wxdx",
            Cell::text(pick(rng, &["居民", "居民,道路", "学校", "农田"])),
        )
        .set("fzzrrxm", Cell::Text(names::person(rng)))
        .set(
            "fzzrrzw",
            Cell::text(pick(rng, &["村主任", "村支书", "乡镇副镇长"])),
        )
        .set("fzzrrdh", Cell::Text(names::phone(rng)))
        .set("jczrrxm", Cell::Text(names::person(rng)))
        .set("jczrrdh", Cell::Text(names::phone(rng)))
        .set("tbdw", Cell::Text(format!("{}自然资源局", county.name)))
        .set("sfxh", Cell::text("否"));
    b.finish()
}
