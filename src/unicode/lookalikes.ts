// Look-alike names (Unicode TS #39, "Security Mechanisms"): whether a name is written in one
// script, and its confusable skeleton, which two names that look alike share. Pure; imports
// nothing of ours, so the accounts feature and the migration that fills stored skeletons share it.
import unhomoglyph from 'unhomoglyph';

// The scripts of Unicode 15 (Node 20's regular expressions know them all). A name in a script
// added later matches none and is taken for mixed.
const SCRIPTS = [
  'Adlam', 'Ahom', 'Anatolian_Hieroglyphs', 'Arabic', 'Armenian', 'Avestan', 'Balinese', 'Bamum', 'Bassa_Vah', 'Batak', 'Bengali',
  'Bhaiksuki', 'Bopomofo', 'Brahmi', 'Braille', 'Buginese', 'Buhid', 'Canadian_Aboriginal', 'Carian', 'Caucasian_Albanian',
  'Chakma', 'Cham', 'Cherokee', 'Chorasmian', 'Coptic', 'Cuneiform', 'Cypriot', 'Cypro_Minoan', 'Cyrillic', 'Deseret', 'Devanagari',
  'Dives_Akuru', 'Dogra', 'Duployan', 'Egyptian_Hieroglyphs', 'Elbasan', 'Elymaic', 'Ethiopic', 'Georgian', 'Glagolitic', 'Gothic',
  'Grantha', 'Greek', 'Gujarati', 'Gunjala_Gondi', 'Gurmukhi', 'Han', 'Hangul', 'Hanifi_Rohingya', 'Hanunoo', 'Hatran', 'Hebrew',
  'Hiragana', 'Imperial_Aramaic', 'Inscriptional_Pahlavi', 'Inscriptional_Parthian', 'Javanese', 'Kaithi', 'Kannada', 'Katakana',
  'Kawi', 'Kayah_Li', 'Kharoshthi', 'Khitan_Small_Script', 'Khmer', 'Khojki', 'Khudawadi', 'Lao', 'Latin', 'Lepcha', 'Limbu',
  'Linear_A', 'Linear_B', 'Lisu', 'Lycian', 'Lydian', 'Mahajani', 'Makasar', 'Malayalam', 'Mandaic', 'Manichaean', 'Marchen',
  'Masaram_Gondi', 'Medefaidrin', 'Meetei_Mayek', 'Mende_Kikakui', 'Meroitic_Cursive', 'Meroitic_Hieroglyphs', 'Miao', 'Modi',
  'Mongolian', 'Mro', 'Multani', 'Myanmar', 'Nabataean', 'Nag_Mundari', 'Nandinagari', 'New_Tai_Lue', 'Newa', 'Nko', 'Nushu',
  'Nyiakeng_Puachue_Hmong', 'Ogham', 'Ol_Chiki', 'Old_Hungarian', 'Old_Italic', 'Old_North_Arabian', 'Old_Permic', 'Old_Persian',
  'Old_Sogdian', 'Old_South_Arabian', 'Old_Turkic', 'Old_Uyghur', 'Oriya', 'Osage', 'Osmanya', 'Pahawh_Hmong', 'Palmyrene',
  'Pau_Cin_Hau', 'Phags_Pa', 'Phoenician', 'Psalter_Pahlavi', 'Rejang', 'Runic', 'Samaritan', 'Saurashtra', 'Sharada', 'Shavian',
  'Siddham', 'SignWriting', 'Sinhala', 'Sogdian', 'Sora_Sompeng', 'Soyombo', 'Sundanese', 'Syloti_Nagri', 'Syriac', 'Tagalog',
  'Tagbanwa', 'Tai_Le', 'Tai_Tham', 'Tai_Viet', 'Takri', 'Tamil', 'Tangsa', 'Tangut', 'Telugu', 'Thaana', 'Thai', 'Tibetan',
  'Tifinagh', 'Tirhuta', 'Toto', 'Ugaritic', 'Vai', 'Vithkuqi', 'Wancho', 'Warang_Citi', 'Yezidi', 'Yi', 'Zanabazar_Square'
];

/**
 * One script, or one of the combinations TS #39's "highly restrictive" level allows: Japanese,
 * Korean and Chinese writing, each with Latin letters (they do not look like one another).
 */
const WRITING_SYSTEMS = [
  ...SCRIPTS.map((script) => [script]),
  ['Latin', 'Han', 'Hiragana', 'Katakana'],
  ['Latin', 'Han', 'Hangul'],
  ['Latin', 'Han', 'Bopomofo'],
];

// Common and Inherited characters (digits, `_ . -`, combining marks) go with any script.
const ONE_SCRIPT_NAMES = WRITING_SYSTEMS.map(
  (scripts) => new RegExp(`^(?:[\\p{Script=Common}\\p{Script=Inherited}]|${scripts.map((script) => `\\p{Script_Extensions=${script}}`).join('|')})*$`, 'u'),
);

/** True when the name mixes letters of several scripts, like a Cyrillic `а` among Latin letters. */
export function mixesScripts(name: string): boolean {
  return !ONE_SCRIPT_NAMES.some((oneScript) => oneScript.test(name));
}

// TS #39's data maps the Cyrillic small palochka (U+04CF) to `i`, but fonts draw it as its
// capital (U+04C0), the tall stroke the data maps to `l`: `раураӏ` would pass beside `paypal`.
const DRAWN_AS_ITS_CAPITAL = /\u04CF/g;

/**
 * TS #39's skeleton, lowercased because names are unique ignoring case: `аlice` (Cyrillic а),
 * `AIice` (capital i) and `alice` share one. The skeleton is taken before lowercasing, as the
 * name is shown as typed.
 */
export function confusableSkeleton(name: string): string {
  const drawn = name.normalize('NFKC').replace(DRAWN_AS_ITS_CAPITAL, '\u04C0');
  return unhomoglyph(drawn.normalize('NFD')).normalize('NFD').toLowerCase();
}
