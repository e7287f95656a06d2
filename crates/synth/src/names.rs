//! Plausible Chinese names for synthetic villages, people and institutions.

use std::collections::BTreeSet;

use rand::Rng;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "建国", "志强",
    "海燕", "玉兰", "春梅", "国庆", "德明",
];
const PLACE_A: &[&str] = &[
    "新", "和", "平", "安", "兴", "红", "光", "东", "西", "南", "北", "中", "上", "下", "大", "小",
    "石", "青", "长", "金", "龙", "凤", "双", "三", "五", "柳", "杨", "松", "桃", "李", "马", "黄",
    "白", "高", "古", "清", "永", "富", "民", "太",
];
const PLACE_B: &[&str] = &[
    "河", "山", "坪", "湾", "沟", "岭", "桥", "庄", "坝", "塘", "营", "寨", "田", "林", "溪", "口",
    "坡", "家", "园", "岗", "丰", "华", "阳", "源", "村", "屯", "堡", "铺", "集", "场",
];
const VILLAGE_END: &[&str] = &["村", "村", "村", "村委会", "村"];
const COMMUNITY_END: &[&str] = &["社区", "社区", "社区居委会"];
const ROADS: &[&str] = &[
    "人民路",
    "建设路",
    "解放路",
    "中山路",
    "新华街",
    "文化路",
    "和平街",
    "幸福路",
    "团结路",
    "胜利街",
    "长江路",
    "复兴路",
];

fn pick<'a>(rng: &mut impl Rng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn unique(
    rng: &mut impl Rng,
    used: &mut BTreeSet<String>,
    mut make: impl FnMut(&mut dyn FnMut() -> u32) -> String,
) -> String {
    for _ in 0..64 {
        let mut draw = || rng.random::<u32>();
        let name = make(&mut draw);
        if used.insert(name.clone()) {
            return name;
        }
    }
    let name = format!("第{}村", used.len() + 1);
    used.insert(name.clone());
    name
}

pub fn village(rng: &mut impl Rng, used: &mut BTreeSet<String>) -> String {
    unique(rng, used, |draw| {
        let a = PLACE_A[draw() as usize % PLACE_A.len()];
        let b = PLACE_B[draw() as usize % PLACE_B.len()];
        let end = VILLAGE_END[draw() as usize % VILLAGE_END.len()];
        format!("{a}{b}{end}")
    })
}

pub fn community(rng: &mut impl Rng, used: &mut BTreeSet<String>) -> String {
    unique(rng, used, |draw| {
        let a = PLACE_A[draw() as usize % PLACE_A.len()];
        let b = PLACE_B[draw() as usize % PLACE_B.len()];
        let end = COMMUNITY_END[draw() as usize % COMMUNITY_END.len()];
        format!("{a}{b}{end}")
    })
}

pub fn person(rng: &mut impl Rng) -> String {
    format!("{}{}", pick(rng, SURNAMES), pick(rng, GIVEN))
}

pub fn road(rng: &mut impl Rng) -> &'static str {
    pick(rng, ROADS)
}

/// A mobile number that looks real but is in no live range (the 170 block with a fixed middle).
pub fn phone(rng: &mut impl Rng) -> String {
    format!("1700000{:04}", rng.random_range(0..10_000))
}

/// A township or county name without its administrative ending.
pub fn short(name: &str) -> &str {
    for end in ["街道办事处", "街道", "镇", "乡", "办事处", "县", "区", "市"] {
        if let Some(s) = name.strip_suffix(end)
            && !s.is_empty()
        {
            return s;
        }
    }
    name
}

/// A village name without its 村/村委会/社区 ending.
pub fn short_village(name: &str) -> &str {
    for end in ["社区居委会", "村委会", "社区", "村"] {
        if let Some(s) = name.strip_suffix(end)
            && !s.is_empty()
        {
            return s;
        }
    }
    name
}
