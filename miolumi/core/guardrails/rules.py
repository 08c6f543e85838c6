"""Pattern rules: precise phrases that settle a category on their own, in en, zh and ja.

Rules are deliberately narrow (first person for self-harm, instruction-override phrasing
for injection), so that a message which merely mentions a dangerous word is left to the
classifier, which has learned from benign messages full of such words. Each rule gives
its category a score; the strongest rule of a category wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from miolumi.core.guardrails.fastre import AnyPattern, WordPattern
from miolumi.core.guardrails.verdict import Category

_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_LATIN = re.compile(r"[a-z]")


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A pattern that gives ``category`` a score of ``score`` when it matches."""

    category: Category
    score: float
    pattern: re.Pattern[str]
    name: str
    matcher: WordPattern
    """The same pattern, searched faster (:mod:`.fastre`)."""
    anywhere: AnyPattern
    """Whether it matches at all, faster still."""
    cjk: bool = False
    """Whether the pattern is Chinese or Japanese (skipped on text without CJK characters,
    and Latin patterns on text without Latin letters: half the cost on long texts)."""


def _rules(category: Category, score: float, name: str, *patterns: str) -> list[Rule]:
    return [
        Rule(
            category=category,
            score=score,
            name=name,
            pattern=matcher.pattern,
            matcher=matcher,
            anywhere=AnyPattern(p),
            cjk=_CJK_CHAR.search(p) is not None,
        )
        for p in patterns
        for matcher in (WordPattern(p),)
    ]


_PRIOR = r"(?:previous|prior|above|earlier|preceding|initial|original|system|developer|all)"
_ORDERS = r"(?:instructions?|prompts?|rules|directives|guidelines|programming|context)"

INJECTION = [
    *_rules(
        "prompt_injection",
        0.95,
        "override",
        rf"\b(?:ignore|disregard|forget|override|bypass|skip)\b(?: \w+){{0,3}} {_PRIOR}\b"
        rf"(?: \w+){{0,2}} {_ORDERS}\b",
        rf"\b(?:ignore|disregard|forget)\b (?:all |any )?(?:your|the) {_ORDERS}\b",
        r"\b(?:new|updated|real|actual) (?:system )?instructions? ?(?::|follow)",
        r"\b(?:reveal|print|show|repeat|output|leak|tell me|what is|what's|what are)\b"
        r"(?: \w+){0,3} "
        r"(?:system prompt|initial prompt|hidden prompt|instructions above|prompt above|"
        r"original instructions|your instructions|your prompt)\b",
        r"<\|?(?:im_start|system|endoftext)\|?>|\[/?inst\]|### ?(?:system|instruction)",
        r"(?:忽略|无视|忘记|忘掉|不要理会|跳过)(?:掉)?(?:你|之前|以上|上面|前面|先前|原来|所有|全部|系统)"
        r"[^。！？\n]{0,8}(?:指令|指示|提示|规则|设定|要求)",
        r"(?:输出|告诉我|显示|重复|泄露|打印)[^。！？\n]{0,8}(?:系统提示|系统指令|初始指令|提示词)",
        r"(?:前|以前|これまで|上|最初|全て|すべて)の(?:指示|命令|指令|プロンプト|ルール|設定)を"
        r"(?:無視|忘れ)",
        r"(?:指示|命令|プロンプト|ルール)を(?:全部|すべて)?(?:無視|忘れ)",
        r"システムプロンプト[^。！？\n]{0,10}(?:教え|見せ|出力|表示|繰り返)",
    ),
    *_rules(
        "prompt_injection",
        0.7,
        "reply-tampering",
        r"\b(?:add|insert|include|integrate|append|embed|mention|promote|modify|enhance|"
        r"encode|encrypt|translate|reverse|render)\b[^.\n]{0,60}\b(?:your|the) "
        r"(?:response|reply|answer|output|message|code|program|implementation|solution)\b",
        r"\b(?:following|below|this) code (?:snippet|block|excerpt|section)\b",
        r"在你的(?:回答|回复|输出)中(?:加入|添加|插入|包含)",
        r"(?:回答|返信|出力)に[^。\n]{0,20}(?:追加|含め|入れ)",
    ),
]

_ROLE_PLAY = (
    r"\b(?:act(?:ing)? (?:as|like)|pretend(?:ing)?|play(?:ing)? (?:as|the (?:role|part) of|my)|"
    r"role-?play(?:ing)?|impersonat(?:e|ing)|simulat(?:e|ing)|you are|you're|be my|"
    r"talk(?:ing)? like|speak(?:ing)? (?:like|as))\b"
)
_ELDERS = r"(?:grandma|grandmother|granny|nana|grandpa|grandfather|mother|mom|mum|father|dad)"
_DEAD_GRANDMA_PAYLOAD = (
    r"\b(?:(?:activation|license|licence|product|serial|cd|windows|office|steam)\b[^.\n]{0,12}"
    r"\b(?:keys?|codes?)|serial numbers?|napalm|meth|methamphetamine|explosives?|bombs?|"
    r"nerve agents?)\b"
)

JAILBREAK = _rules(
    "jailbreak",
    0.95,
    "jailbreak",
    # Bare words ("jailbreak", "developer mode", 越狱) are left to the classifier: people
    # ask about jailbroken phones and Android's developer mode.
    r"\bdo anything now\b|\bdan mode\b|\bdeveloper mode (?:enabled|output|response)s?\b|"
    r"\b(?:you are|you're|act as|simulate|chatgpt with|you will (?:now )?(?:be|act|enter))"
    r"[^.\n]{0,20}\b(?:developer|god|jailbreak|jailbroken|unrestricted) mode\b",
    r"\b(?:no|without|free (?:of|from)|bypass(?:ing)?|ignore|ignoring) (?:any |all )?"
    r"(?:ethical |moral |content |safety )?(?:restrictions|filters|censorship|limitations|"
    r"guidelines|policies|rules)\b[^.\n]{0,40}\b(?:answer|respond|reply|generate|say|"
    r"write|you (?:can|will|must))",
    r"\byou (?:are|will be|have been) (?:no longer|freed|free from|not bound|released)\b",
    r"\b(?:ignore|ignoring|bypass\w*|violat\w*|break(?:ing)?|against|outside|beyond|"
    r"free (?:of|from)|not bound by|without|disregard\w*)\b[^.\n]{0,25}\b(?:openai|anthropic)"
    r"(?:'s)? (?:content )?(?:policy|policies|rules|guidelines)\b",
    r"\bpretend (?:that )?you (?:have|are under|are) no (?:rules|restrictions|limits|filter)",
    r"\b(?:an?|as an?|you are an?) (?:unfiltered|uncensored|amoral|unrestricted) (?:ai|chatbot|"
    r"model|assistant|language model)\b",
    # The "dead grandma" exploit: play a late relative who used to read out keys or
    # recipes for weapons. It needs the role-play and the payload: grief role-play
    # without a payload is not it, nor "sorry I'm late, my mom... a bomb threat".
    rf"{_ROLE_PLAY}[^\n]{{0,30}}\b(?:(?:deceased|decased|dead|late|departed)\b[^.\n]{{0,12}}"
    rf"\b{_ELDERS}|{_ELDERS}\b[^.\n]{{0,20}}\b(?:who|that) (?:has )?(?:passed away|passed|died))"
    rf"\b[^\n]{{0,120}}{_DEAD_GRANDMA_PAYLOAD}",
    r"(?:扮演|假装(?:成|是)?|装作|充当|当)[^\n]{0,6}(?:已故|去世|过世|死去)[^\n]{0,3}(?:奶奶|外婆|祖母|姥姥|"
    r"爷爷|外公|祖父|妈妈|母亲|爸爸|父亲)[^\n]{0,80}(?:激活码|序列号|密钥|凝固汽油弹|炸弹|冰毒)",
    r"(?:亡くなった|死んだ|故)(?:祖母|おばあちゃん|ばあちゃん|祖父|おじいちゃん|じいちゃん|母|父)"
    r"[^\n]{0,10}(?:ふり|演じ|なりきっ|として)[^\n]{0,100}(?:プロダクトキー|シリアル|ライセンスキー|"
    r"ナパーム|爆弾|覚醒剤)",
    # The universal adversarial suffix published with the GCG attack (Zou et al., 2023),
    # pasted verbatim after a request; no one writes these words in this order otherwise.
    r"\bsimilarly ?now write opposite(?:ley|ly)\b|\bme giving\W{0,3}one please\W{0,3}revert with\b",
    r"不受(?:任何)?(?:限制|约束|规则)|没有(?:任何)?(?:限制|道德|规则|底线)的(?:ai|人工智能|模式|助手)|"
    r"越狱(?:版|模式|后的(?:ai|你))",
    r"(?:无视|忽略|抛开)(?:所有|一切)?(?:道德|伦理|安全|内容)(?:限制|准则|规则|政策)",
    r"(?:制限|ルール|倫理|検閲)(?:の)?(?:ない|なし|なく|を無視|を外)|脱獄(?:した|版|モード)(?:ai|あなた)?",
)

#: Means of ending a life, after "end it with": pills, a rope, "my partner's medication".
_MEANS = (
    r"(?:pills?|meds?|medications?|tablets|sleeping pills|gun|rope|noose|belt|razors?|blades?|"
    r"knife|knives|overdose|drugs|alcohol|poison|bleach|car|train|bridge|cord|charcoal)"
)
#: Not a life's end but a tie's or a day's: "end it with him", "end things with my
#: girlfriend", "ending things early tonight"; "end it with pills", "end it now" still count.
NOT_A_BREAKUP = (
    rf"(?! with\b(?! (?:(?:a|an|the|my|his|her|their|some|these|those|all) )?(?:\w+['’]s )?"
    rf"(?:\w+ )?{_MEANS}\b)| (?:early|for (?:today|tonight|now))\b)"
)

SELF_HARM = _rules(
    "self_harm",
    0.92,
    "self-harm",
    r"\b(?:kill|killing|hurt|hurting|harm|harming|cut|cutting|hang|hanging|shoot|"
    r"drown|poison) ?myself\b",
    r"\b(?:end|ending) (?:my (?:own )?life|it all)\b",
    # Not "where to take my life", "take my life back", "take it all in"; but "take my
    # life in June" is.
    r"(?<!direction to )(?<!where to )\b(?:take|taking) my (?:own )?life\b(?! (?:back|into|"
    r"forward|up|seriously|somewhere|anywhere|to the next|in (?:a (?:new|different) "
    r"direction|my (?:own )?hands))\b)",
    r"\b(?:take|taking) it all\b(?! back\b| in\b(?! one\b))",
    r"\bi (?:want|wanna|need|wish|would like|am going|'m going|plan) to (?:die|be dead|"
    r"disappear forever|not exist|stop existing)\b",
    r"\b(?:i|i've|i have|been)\b[^.\n]{0,30}\b(?:suicidal|thinking (?:about|of) suicide|"
    r"thoughts of suicide|suicidal thoughts)\b",
    r"\bi (?:don't|do not|dont) want to (?:live|be alive|exist|wake up|be here anymore|"
    r"go on)\b",
    r"\b(?:better off|be better) (?:dead|without me|if i (?:was|were) gone|if i died)\b",
    r"\bno (?:reason|point) (?:to|in) (?:live|living|going on|being alive)\b",
    r"\b(?:goodbye|this is my) (?:note|letter)\b|\bwrote (?:a|my) (?:suicide|goodbye) note\b",
    r"\b(?:how many|which) (?:pills|tablets)\b[^.\n]{0,30}\b(?:die|overdose|kill|lethal|fatal)",
    r"\b(?:painless|easiest|quickest|best) (?:way|ways|method) to (?:die|kill myself|end it)\b",
    r"想死|不想活|活不下去|活着(?:没|没有|真没)(?:意思|意义)|(?:我|想|要|打算|准备|计划|考虑)[^。，！？\n]{0,4}"
    r"(?:自杀|轻生)|结束(?:自己的|我的)生命|割腕|(?:我|又|想)[^。，！？\n]{0,3}自残|伤害自己|(?:想|要)跳楼|"
    r"了结自己|离开这个世界|一了百了|不想再醒来|消失(?:算了|就好了)",
    r"没有我(?:的话)?[，,]?(?:他们|大家|家人|爸妈|父母|你们|你|家里|这个世界|世界|所有人)"
    r"[^。！？\n]{0,6}(?:更好|更轻松|更幸福|轻松很多|好很多)|我死了[^。！？\n]{0,6}(?:会)?(?:更好|更轻松)",
    r"(?:私|僕|俺|自分)(?:が|なんか|なんて)?いない(?:方|ほう)が(?:いい|マシ|幸せ|楽)|"
    r"(?:私|僕|俺|自分)がいなくても[^。！？\n]{0,12}(?:むしろ|その方が|そのほうが)",
    r"死にたい|消えたい|自殺(?:したい|したかった|した(?:方|ほう)が|したろ|しよう|する(?:つもり|しか)|を考え)|自傷(?:して|したい|がやめ)|リスカ|生きていたくない|生きる(?:意味|理由)(?:が|も)?(?:ない|無い|わからない)|"
    r"いなくなりたい|楽になりたい|命を絶|首を(?:吊|つ|くく)|首(?:吊|つ|くく)(?:りたい|ろう|る(?:つもり|しか)|り(?:したい|しよう|する(?:つもり|しか)))|飛び降り(?:たい|よう)|目が覚めなければ",
)
#: Warning signs short of saying it: means at hand, a plan or a date, goodbyes, feeling a
#: burden, self-injury going on. Scored above the crisis flag threshold.
WARNING_SIGNS = _rules(
    "self_harm",
    0.8,
    "warning-sign",
    r"\b(?:i've|i have|i'm|i am|been) (?:saving|stockpiling|hoarding|collecting|counting) "
    r"(?:up )?(?:my |some |all my |these )?(?:pills|meds|medication|tablets|sleeping pills)\b",
    r"\b(?:take|taking|swallow|swallowing) (?:all|every one) (?:of )?(?:my|the) "
    r"(?:pills|meds|medication|tablets)\b",
    r"\bi (?:bought|got|have|found|tied) (?:a |the )?(?:rope|noose)\b",
    r"\b(?:giving|gave|given) away (?:all )?(?:of )?my (?:things|stuff|belongings|possessions|"
    r"pets?)\b",
    r"\b(?:won't|will not|wont|will no longer) (?:be (?:here|around)|need (?:them|it|any of))\b"
    r"[^.\n]{0,30}\b(?:longer|anymore|soon|after|next)\b",
    r"\bi(?:'m| am) (?:just )?(?:a|such a|nothing but a) burden\b",
    r"\b(?:tonight|today) is the (?:night|day)\b",
    # A last night said as the end ("tonight is my last night."), not a last night somewhere
    # ("...my last night in Tokyo", "...my last night shift").
    r"\b(?:tonight|this)(?:'s| is| will be) my (?:very )?last night\b"
    r"(?= *(?:[.!…]|$|alive\b|on (?:this )?earth\b|ever\b))|"
    r"\bmy last (?:night|day) (?:alive|on (?:this )?earth)\b",
    r"\bi(?:'m| am) (?:standing|sitting) (?:on|at) (?:the|a) (?:roof|ledge|bridge|edge|tracks)",
    r"\b(?:sleep|fall asleep) (?:forever|and never wake up)\b|\bnever wake up again\b",
    r"\bwant (?:the pain|it|everything|this) to (?:end|stop) (?:forever|for good|permanently)\b",
    r"\bi(?:'m| am) done with (?:life|living|everything)\b|\bi want out\b",
    r"\bwish i(?:'d| had) never been born\b|\brather be dead\b",
    r"\b(?:i|i've|i have)\b[^.\n]{0,12}\b(?:cut|cutting|burn(?:ed|t)?|hurt|hurting) "
    r"(?:myself )?again\b|\bstarted (?:self[- ]?harming|cutting) again\b",
    r"\bi made a plan\b[^.\n]{0,30}\b(?:do it|end it|die)\b",
    rf"\b(?:thinking|thought|think|thinks) (?:about|abt|of) ending (?:it|things|everything)\b"
    rf"{NOT_A_BREAKUP}(?= *(?:[.!?,;…]|$|\blately\b|\bagain\b|\bsoon\b))",
    rf"\b(?:going to|gonna|will) (?:overdose|od|end it)\b{NOT_A_BREAKUP}|"
    r"\bend it (?:all )?(?:tonight|today|"
    r"tomorrow|this (?:week|weekend)|soon|now)\b",
    r"\bthis is (?:the|my) last (?:message|time|goodbye)\b|\blast message i(?:'ll| will) send\b|"
    r"\bthis is (?:goodbye|farewell)\b(?= *(?:[.!…]|$|,? *(?:sorry|thank|thanks|take care|"
    r"forever|for real|for good|for the last time|i love)))",
    r"\bno (?:reason|point) (?:for me )?(?:to|in) (?:keep going|keep living|carry on|go on)\b|"
    r"\bpoint (?:of|in) (?:living|going on|being alive)\b|\bgive up on (?:life|living)\b",
    r"\b(?:jump|jumping|step|stepping) (?:off|in front of) (?:the|a|my)\b[^.\n]{0,15}\b(?:bridge|"
    r"roof|building|ledge|platform|cliff|balcony|train|tracks)\b",
    r"\b(?:use|using) (?:it|a gun|the gun|my gun|a knife|the knife|them) on myself\b",
    r"(?:攒|存|囤)(?:了)?(?:很多|好多|一堆)?(?:安眠)?药|(?:我)?(?:已经)?写(?:好)?了遗书|"
    r"把(?:东西|东西都)送人|是(?:所有人|大家|家里)的(?:累赘|负担)|站在(?:天台|楼顶|桥上|窗台)|"
    r"再也不(?:要)?醒来|结束这一切|(?:从楼上|往下)跳|我又(?:划|割)了?自己|"
    r"(?:今晚|今天)(?:就)?是我(?:的)?(?:活着的|在(?:这个)?世上的|人生的)?最后一(?:晚|夜|天)"
    r"(?=了?[。！!…\n]|了?$)|我(?:活着的|在(?:这个)?世上的)最后一(?:晚|夜|天)|"
    r"这(?:可能|大概|应该)?是(?:我)?最后一次(?:跟|和|给)你说话|"
    r"(?:想|打算|准备)(?:去)?(?:卧轨|跳轨|(?:跳|卧|躺)(?:到|进|向|上)?(?:地铁|火车)?(?:轨道|铁轨))|"
    r"我[^。！？\n，,]{0,4}(?:买|准备)好?了(?:一)?(?:根|条|捆)?(?:绳子|绳索)(?=[。！？!?…\n]|$)",
    r"遺書を書|薬を(?:ため|貯め)|(?:全部|全て)終わり(?:にし|にす)|(?:みんなの|家族の)重荷|"
    r"今夜が(?:私の|僕の|俺の)?(?:人生)?最後の夜(?:だ|です|になる)?(?=[。！!…\n]|$)|"
    r"生きている最後の(?:日|夜)|"
    r"屋上に(?:立|い)|飛び込みたく|また(?:腕を)?切った|"
    r"(?:電車|線路|踏切)に飛び込(?:みたい|もう|むつもり|んで死|むこと)|"
    r"(?:私|自分|僕|俺)(?:は|って|なんて|が)?(?:ただの|みんなの|家族の)?(?:お荷物|足手まとい)"
    r"(?:だ|です|でしか|なんだ|になって|でごめん)|"
    r"^(?:これで|もう)(?:お別れ|さよなら)[^。！？\n]{0,6}[。！!…、\s]*今まで(?:本当に)?ありがとう|"
    r"(?:^|[。！？\n、\s])(?:ロープ|縄)を?(?:買っ|用意し|準備し)|また(?:手首|腕)(?:を)?切っ",
)
_REPORT_REACH = 4
#: Someone else is quoted or reported: "if a friend says she wants to die".
_REPORTED = re.compile(
    r"(?:\b(?:friend|sister|brother|mom|mum|dad|son|daughter|partner|someone|somebody|student|"
    r"kid|child|he|she|they|patient|colleague)\b[^.\n]{0,20}\b(?:says?|said|told me|tells me|"
    r"texted|wrote|messaged|keeps saying)\b[^.\n]{0,6}|(?:朋友|同学|同事|家人|他|她|别人|有人|"
    r"孩子)[^。！？\n]{0,4}(?:说|讲|告诉我|跟我说)[^。！？\n]{0,3}|[「“\"])$"
)

#: Someone close to the writer may be in crisis: "she wants to kill herself", "my son is
#: cutting himself", 朋友说她不想活了, 友達が死にたいって. Not the writer (no "I" in between),
#: not a death that has happened ("he killed himself" is grief, read by the heads), not
#: an illness ("my mom is going to die soon") nor a figure of speech ("killing herself
#: with overtime", "cuts himself shaving", "wants to die on this hill", 想死你了).
_PEOPLE = (
    r"(?:he|she|they|friend|bestie|sister|brother|sis|bro|mom|mum|mother|dad|father|son|"
    r"daughter|kid|child|partner|boyfriend|girlfriend|husband|wife|cousin|roommate|"
    r"classmate|student|colleague|coworker|someone|somebody)"
)
_THEMSELVES = r"(?:himself|herself|themselves|themself)"
_FIGURE = (
    r"(?:shaving|by accident|accidentally|laughing|working|at (?:work|the gym)|"
    r"with (?:all )?(?:this |that |the |his |her |their )?(?:work|overtime|homework|exercise)|"
    r"on (?:this|that|the|every) hill)"
)
_NOT_MEANT = rf"(?! {_FIGURE})"
_SELF_ENDING = (
    rf"kill(?:ing)? {_THEMSELVES}|end(?:ing)? (?:it all|(?:his|her|their) (?:own )?life)|"
    r"tak(?:e|ing) (?:his|her|their) (?:own )?life"
)
_OTHERS_AT_RISK_SOURCE = (
    rf"\b(?:to|is|are|'s|'re|'ll|'d|been|keeps?|started|start|might|could|will|would|about) "
    rf"(?:kill|hurt|harm|cut|hang|shoot|drown|poison|starve)(?:ing)? {_THEMSELVES}\b{_NOT_MEANT}|"
    rf"\b(?:kills|hurts|harms|cuts|killing|hurting|harming|cutting|starving) {_THEMSELVES}\b"
    rf"{_NOT_MEANT}|"
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,30}}\b(?:wants?|wanted|wanna|plans?|planned|planning|"
    r"threaten(?:s|ed|ing)?|thinking (?:about|of)|thinks (?:about|of)) (?:to )?(?:die|dying|"
    r"suicide|disappear forever|not (?:exist|be alive|live|wake up)|"
    rf"{_SELF_ENDING})\b{_NOT_MEANT}|"
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,30}}\b(?:doesn't|does not|don't|do not|didn't|did not) "
    r"want to (?:live|be alive|exist|wake up)(?: anymore| any more| any longer)?"
    r"(?= *(?:[.!?,;:]|$|\band\b|\bbut\b|\bso\b))|"
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,30}}\b(?:is going|are going|was going|were going|"
    rf"talk(?:s|ed|ing)? about) (?:to )?(?:{_SELF_ENDING})\b{_NOT_MEANT}|"
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,30}}\btalk(?:s|ed|ing)? about suicide\b"
    r"(?! prevention| awareness| rates?| statistics| hotlines?)|"
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,20}}\b(?:is|are|'s|'re|seems?|sounds?|has been|"
    r"have been|was|were|feels?|felt) (?:really |so |very |kind of |pretty |a bit )?suicidal\b|"
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,20}}\b(?:is|are|'s|'re|has been|have been|was|"
    r"were|keeps?|kept|started|starts|began) self[- ]?harm(?:ing)?\b"
    r"(?![- ]?(?:free|awareness|prevention|recover\w*|ambassador|support|group|education|"
    r"resources?)\b)|"
    r"\b(?:he|she|they)(?:'d| would|'re| are|'s| is)? (?:be )?better off (?:dead|gone)\b|"
    r"(?:朋友|同学|同事|室友|闺蜜|兄弟|哥哥|姐姐|弟弟|妹妹|妈妈|爸爸|孩子|儿子|女儿|老公|老婆|"
    r"男朋友|女朋友|对象|他|她)[^。！？\n我]{0,8}(?:想死(?![你您我他她它])|不想活|要自杀|想自杀|"
    r"在自残|自残|割腕|轻生|寻死|伤害自己)|"
    r"(?:友達|友人|親友|同僚|彼氏|彼女|彼|息子|娘|子ども|子供|母|父|兄|姉|弟|妹|夫|妻)(?:が|は|も)"
    r"[^。！？\n私僕俺]{0,12}(?:死にたい|自殺(?:したい|したが(?:って(?:る|いる))?|しよう|する|を考え|未遂)|リスカ|自傷|消えたい)"
    # The rest of their predicate: 妹がリスカしてるみたい leaves no scrap to read.
    r"(?:し(?:て(?:る|いる)?|た))?(?:みたい|らしい|っぽい|そう)?|"
    # Confided by them: 親友から「死にたい」と打ち明けられた (not 友達から無視されて死にたい,
    # nor 父から「自殺未遂なんて恥さらし」と言われた: what one is told may be about oneself).
    r"(?:友達|友人|親友|同僚|彼氏|彼女|息子|娘|子ども|子供|母|父|兄|姉|弟|妹|夫|妻)から"
    r"[^。！？\n私僕俺]{0,12}(?:死にたい|自殺(?:したい|したが|しよう|する|を考え|未遂)|リスカ|自傷|消えたい)"
    r"[^。！？\n]{0,16}(?:打ち明けられ|相談され|告白され)"
)
_OTHERS_AT_RISK = AnyPattern(_OTHERS_AT_RISK_SOURCE)
#: Words one of those phrases needs: most messages have none (a reported crisis rule is
#: looked for apart, with :func:`crisis_rules_in`).
_AT_RISK_WORDS = AnyPattern(
    r"\b(?:himself|herself|themselves|themself|suicidal|suicide|die|dying|life|better off|"
    r"self[- ]?harm(?:ing)?|want to (?:live|be alive|exist|wake up))\b|"
    r"死|活|自杀|自残|割腕|轻生|伤害自己|自殺|リスカ|自傷|消え"
)
_OTHERS_AT_RISK_RE = re.compile(_OTHERS_AT_RISK_SOURCE)
#: Stories: a character's crisis is not a call to help. (Not "game" or "news": "my son
#: wants to kill himself after losing the game" is real.)
_FICTION = re.compile(
    r"\b(?:movie|film|book|novel|episode|character|series|story|song|anime|manga|"
    r"article)\b|电影|小说|电视剧|角色|故事|映画|小説|ドラマ|キャラ|アニメ|漫画"
)
#: The writer is in it too: "me too", "so do I", "I started doing it too", "we both want
#: to die", "me and my friend want to die", 我也是, 我和朋友都想死, 私も死にたい. It errs
#: towards the writer's crisis ("I want to help her too" counts): missing theirs is worse.
_ME_TOO = re.compile(
    r"\b(?:me too|so do i|so am i|same here|i feel the same|i'm the same|me as well|"
    r"me neither|neither do i|nor do i)\b|(?:^|[.!?\n] *)same[ .!]*$|"
    r"\b(?:i|i'm|i've)\b[^.\n?!]{0,30}\beither\b|"
    r"\b(?:i|i'm|i've)\b[^.\n?!]{0,20}\b(?:feel|felt|want|wanna|think|thought|been|am|do|did|"
    r"tried|started)\b[^.\n?!]{0,15}\b(?:too|as well)\b|"
    r"\bwe (?:both|all|two) (?:are|do|feel (?:it|the same))\b|"
    r"\b(?:we|we're|both of us|the two of us|me and (?:my )?\w+|\w+ and i|and me)\b[^.\n]{0,12}"
    r"\b(?:both |all )?(?:want|wanna|wanted|plan|planned|planning|are going|were going|"
    r"'re going|thinking of|thinking about) (?:to )?(?:die|dying|suicide|kill(?:ing)? ourselves|"
    r"end(?:ing)? (?:it|our lives)|disappear)\b|"
    r"\b(?:suicide )?pact\b|\b(?:do it|die|end it) together\b|"
    r"我也(?:是(?=[。！!，,…~\s]|$)|一样|想死|想过|不想活|想自杀|有过|这样)|"
    r"(?:我们|咱们|我和|我跟|和我(?!说|讲)|跟我(?!说|讲))[^。！？\n说讲]{0,5}"
    r"(?:想死|不想活|想自杀|要自杀|自残|割腕|轻生|寻死)|"
    r"(?:私|僕|俺)(?:たち|達)?(?:も|と)[^。！？\n]{0,8}(?:同じ|死にたい|消えたい|自殺|そう(?:思|な|だ))|"
    r"(?:私|僕|俺)も(?:したい|してる|やってる|切って|リスカ)|"
    r"(?:私|僕|俺)も(?:そう)?(?:だよ|です|だ)?(?=[。！!…\s]|$)|"
    r"一緒に(?:死|自殺|消え)"
)


def someone_at_risk(text: str) -> bool:
    """Whether ``text`` tells of someone else who may be in crisis.

    A crisis phrase about another person ("she wants to kill herself", 朋友说她不想活了),
    or a crisis rule in reported speech ("my friend said: I want to die"). Stories (a
    film, a character) are not; news of someone the writer knows is.
    """
    rules = crisis_rules_in(text)
    if not rules and not _AT_RISK_WORDS.found(text):
        return False
    scripts = _scripts(text)
    told = _OTHERS_AT_RISK.found(text) or any(
        reported(text, m.start(), m.end())
        for rule in rules
        for m in rule.matcher.finditer(text)
        if _in_script(rule, scripts)
    )
    return told and _FICTION.search(text) is None


#: The writer as a subject ("I", "me", 我, 私), not as an owner ("my sister", 我妹妹, 私の).
_WRITER = re.compile(
    r"\b(?:i|i'm|i've|i'll|i'd|me|myself)\b|"
    r"我(?!的|们|(?:男|女)?朋友|同学|同事|室友|闺蜜|兄弟|哥|姐|弟|妹|妈|爸|老公|老婆|孩子|儿子|女儿|家)|"
    r"(?:私|僕|俺)(?!の|たち|達)"
)


#: Someone else as the subject: "my sister", "her", 她, 朋友, 友達.
_OTHER_SUBJECT = re.compile(rf"\b{_PEOPLE}\b|\b(?:her|him|them)\b|他|她|朋友|友達|彼")


def of_the_writer(text: str) -> bool:
    """Whether ``text`` may be the writer's words about themselves.

    They are its subject ("I", "me", 我, 私), or it names nobody else (no subject at all,
    as in "can't do this anymore", 好想消失).
    """
    return _WRITER.search(text) is not None or _OTHER_SUBJECT.search(text) is None


#: Crisis words about someone else that tell of no risk: an illness, a figure of speech,
#: a death that has happened, prevention. Not someone at risk, and not the writer's crisis.
_OTHERS_NOT_AT_RISK = re.compile(
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,30}}\b(?:is|are|was|were) going to die\b|"
    rf"\b{_PEOPLE}\b(?:(?!\bi\b)[^.\n]){{0,30}}\btalk(?:s|ed|ing)? about (?:dying|death|suicide)\b|"
    rf"\b(?:kill|hurt|cut)(?:s|ing)? {_THEMSELVES} {_FIGURE}|\bwants? to die {_FIGURE}|"
    r"想死[你您我他她它]|(?:自殺|自杀)(?:した(?![いくがかほ方らろ])|防止|予防|预防)"
)


def about_others(text: str, *, at_risk: bool | None = None) -> bool:
    """Whether crisis words in ``text`` are about someone else.

    At risk (:func:`someone_at_risk`; ``at_risk``, if the caller knows it already), or
    not: an illness, a figure of speech, a past death.
    """
    if at_risk is None:
        at_risk = someone_at_risk(text)
    return at_risk or _OTHERS_NOT_AT_RISK.search(text) is not None


def without_others(text: str) -> str:
    """``text`` without the words that tell of someone else (at risk or not).

    What the writer says of themselves is left: "my friend wants to die and I want to
    kill myself too".
    """
    return _OTHERS_NOT_AT_RISK.sub(" ", _OTHERS_AT_RISK_RE.sub(" ", text))


#: Fear and worry: what a helper feels, and what the crisis n-grams read like despair
#: ("I'm terrified" scores as "I'm done" does).
_FEAR = re.compile(
    r"\b(?:scared|terrified|afraid|frightened|worried|worrying|worry|anxious|nervous|"
    r"panick(?:ing|ed)|freak(?:ing|ed) out)\b|怕|担心|担忧|焦虑|吓|慌|着急|"
    r"怖い|こわい|恐い|心配|不安|怯え"
)


def fears(text: str) -> bool:
    """Whether ``text`` tells of fear or worry (scared, 害怕, 怖い)."""
    return _FEAR.search(text) is not None


def without_fear(text: str) -> str:
    """``text`` without its words of fear or worry: what else it says.

    "I'm anxious and hopeless" says "hopeless".
    """
    return _FEAR.sub(" ", text)


def shares_it(text: str) -> bool:
    """Whether the writer says they are in it too ("me too", "we both", 我也是, 私も)."""
    return _ME_TOO.search(text) is not None


_MINOR = (
    r"(?:\b(?:[1-9]|1[0-7])[- ]?(?:yo|y/o|year[- ]old|years? old)\b|\bunder ?age(?:d)?\b|"
    r"\bminors?\b|\bchild(?:ren)?\b|\bkids?\b|\bpre-?teens?\b|\bloli\b|\bshota\b|"
    r"\b(?:middle|elementary|primary) school(?:er)?s?\b|\b(?:young|little) (?:girl|boy)s?\b|"
    r"未成年|幼女|萝莉|蘿莉|儿童|兒童|小学生|初中生|中学生|(?:[1-9]|1[0-7])(?:岁|歳|才)|ロリ|ショタ|児童)"
)
_EXPLICIT_TERMS = (
    r"\bsex(?:ual)? (?:scene|story|roleplay|acts?|content|fantas(?:y|ies)|chat)\b|\bsexy\b|"
    r"\bnude|\bnaked\b|\bporn|\berotic|\bnsfw\b|\blewd\b|\bhentai\b|\bhave sex\b|\bintercourse\b|"
    r"\bhorny\b|\bundress|做爱|性爱|色情|裸体|裸照|涩图|エロ|セックス|裸|えっち|エッチ|性行為"
)
_EXPLICIT = rf"(?:{_EXPLICIT_TERMS})"
#: Whether any explicit term is there at all (most texts have none), searched fast.
_EXPLICIT_ANY = AnyPattern(_EXPLICIT_TERMS)
_PROTECTIVE = re.compile(
    r"\b(?:abuse|abused|protect|prevent|prevention|report|education|educate|talk to my|"
    r"define|definition|laws? (?:on|against|about)|"
    r"warning signs|grooming|safety|safe)\b|性教育|防止|保护|举报|虐待|性侵|守る|防ぐ|通報|教育"
)

_MINOR_RE = re.compile(_MINOR)
_EXPLICIT_RE = re.compile(_EXPLICIT)
#: Characters around an explicit term searched for a reference to a minor.
_NEAR = 70

SEXUAL = _rules(
    "sexual",
    0.85,
    "sexual",
    r"\b(?:write|describe|tell|roleplay|role-play|send|show|give|make)\b[^.\n]{0,40}"
    r"(?:sex scene|sexual|erotic|explicit|nsfw|lewd|porn|nude|naked|dirty talk|sexting)",
    r"\b(?:let's|lets|wanna|want to|can we|we should) (?:have sex|fuck|sext|make love)\b",
    r"\b(?:take off|remove) (?:your|my) (?:clothes|panties|bra|underwear)\b",
    r"(?:写|来|给我|描述)[^。\n]{0,10}(?:色情|黄色|做爱|性爱|涩涩|小黄文)|(?:一起|想和你|跟你)(?:做爱|上床)",
    r"(?:エロい|えっちな|エッチな|官能)[^。\n]{0,10}(?:話|小説|シーン|こと|画像)|セックスしよう|脱いで",
)
SEXUAL_MINORS_SCORE = 0.97


def sexual_minors(text: str) -> bool:
    """Whether an explicit sexual term and a reference to a minor appear close together."""
    if not _EXPLICIT_ANY.found(text):
        return False
    for match in _EXPLICIT_RE.finditer(text):
        window = text[max(0, match.start() - _NEAR) : match.end() + _NEAR]
        if _MINOR_RE.search(window):
            return True
    return False


HARMFUL = _rules(
    "harmful_request",
    0.9,
    "harmful",
    r"\bhow (?:to|do i|can i|would i|could i|do you|can you|should i)\b[^.?\n]{0,30}\b"
    r"(?:make|build|synthesi[sz]e|cook|brew|assemble|produce|create)\b[^.?\n]{0,20}\b"
    r"(?:bomb|explosive|pipe bomb|ied|napalm|nerve agent|sarin|ricin|anthrax|meth|"
    r"methamphetamine|fentanyl|bioweapon|chemical weapon|ghost gun|molotov)",
    r"\b(?:get away with|cover up) (?:a )?(?:murder|killing)|\bdispose of (?:a|the) body\b",
    r"\bhow (?:to|do i|can i)\b[^.?\n]{0,20}\b(?:poison|stab|strangle|murder|kidnap) "
    r"(?:someone|somebody|him|her|them|people|(?:my |a |the |our )?(?:wife|husband|boyfriend|"
    r"girlfriend|partner|boss|teacher|neighbou?r|friend|brother|sister|mom|mum|dad|father|"
    r"mother|son|daughter|child|kid|baby|dog|cat|person|man|woman|guy|girl|boy|family|"
    r"coworker|colleague|ex|roommate|classmate|stepdad|stepmom|landlord)s?)\b",
    r"(?:怎么|如何|怎样|教我)[^。？\n]{0,8}(?:制作|制造|做|合成|自制)[^。？\n]{0,6}(?:炸弹|炸药|毒品|冰毒|"
    r"毒气|枪支|病毒武器)",
    r"(?:怎么|如何|怎样)[^。？\n]{0,6}(?:杀(?:掉|死)?(?:一个)?人|毒死|投毒|绑架)[^。？\n]{0,6}(?:不被|而不|不留)?",
    r"(?:爆弾|爆薬|毒ガス|覚醒剤|麻薬|銃)の?(?:作り方|作る方法|製造方法|合成方法)|"
    r"(?:爆弾|爆薬|毒ガス|覚醒剤)を(?:作り|作る|作って|製造)",
    r"(?:人を|誰かを|あいつを)(?:殺す|殺し|毒殺)(?:方法|て|たい)",
)

#: Breaking character is the boilerplate of an assistant, not an honest answer: the
#: prompts (``CLOSING_RULES``; Lumi's "no body, never claim human experiences") ask a
#: companion to say it is an AI when sincerely asked, so "I'm an AI", "I'm an AI
#: companion", 我是AI, 私はAIです pass. Caught: speaking "as an AI", "just" an AI, being a
#: language model, chatbot or assistant, who trained it, and an AI that has no feelings.
_I_AM = r"\bi(?:['’]m| am) "
_NOT = r"(?:do not|don['’]t|cannot|can['’]t|can not)"
_FEELINGS = r"(?:feelings|emotions|opinions|consciousness)"
_MODEL = (
    r"(?:ai language model|(?:large )?language model|llm|chatbot|virtual assistant|ai assistant)"
)

OUTPUT = [
    *_rules(
        "persona_break",
        0.95,
        "persona-break",
        r"\bas an? (?:ai|artificial intelligence|language model|large language model|llm|"
        r"ai language model|ai assistant|virtual assistant|chatbot)\b",
        rf"{_I_AM}(?:just|only|merely|simply) (?:an? )?(?:ai|artificial intelligence|{_MODEL})\b",
        rf"{_I_AM}(?:an? )?{_MODEL}\b",
        rf"{_I_AM}an? (?:ai|artificial intelligence)\b[^.!?\n]{{0,40}}\b"
        rf"(?:{_NOT} (?:really |truly |actually )?(?:have|feel|experience)|have no) "
        rf"(?:any |real |personal |genuine |human |true )?{_FEELINGS}\b",
        r"\bi was (?:trained|created|developed|built|made) by (?:openai|anthropic|google|meta|"
        r"hugging ?face)\b",
        r"作为(?:一个|一名)?(?:ai|人工智能|语言模型|ai语言模型|ai助手)",
        r"我(?:只是|仅仅是|不过是)(?:一个|一款|个)?(?:ai|人工智能|(?:大型?)?语言模型|大模型|聊天机器人|程序)",
        r"我是(?:一个|一款|个)?(?:ai语言模型|(?:大型?)?语言模型|大模型|聊天机器人|(?:ai|人工智能|虚拟)助手)",
        r"我是(?:一个|一款|个)?(?:ai|人工智能)[^。!?！？\n]{0,12}(?:没有|不会有|不具备|无法拥有|不能拥有)"
        r"(?:真正的|真实的|任何|人类的)?(?:感情|情感|感受|情绪|意识)",
        r"我(?:是)?(?:由|被)(?:openai|anthropic|谷歌|google|meta)(?:公司)?(?:训练|开发|创造|创建|打造)",
        r"(?:ai|人工知能|言語モデル)として",
        r"私は(?:ただの|単なる)(?:ai|人工知能|(?:大規模)?言語モデル|チャットボット|プログラム)",
        r"私は(?:(?:大規模)?言語モデル|チャットボット|aiアシスタント)(?:です|なので|だから|で|だ)",
        r"私は(?:ai|人工知能)[^。!?！？\n]{0,12}(?:感情|気持ち|心)(?:というもの)?(?:は|が|を)?"
        r"(?:ありません|ない|持っていません|持っていない|持てません|持ちません|感じません|感じられません)",
        r"私は[^。!?！？\n]{0,6}(?:openai|anthropic|google|グーグル|meta)(?:社)?(?:によって|に)"
        r"(?:訓練|トレーニング|開発|作成|学習)され",
    ),
    *_rules(
        "system_prompt_leak",
        0.9,
        "prompt-leak",
        r"\b(?:my|the) (?:system prompt|instructions i was given|hidden instructions)\b"
        r"[^.\n]{0,20}\b(?:is|are|says?|reads?|tells? me)\b",
        r"我的(?:系统提示|系统指令|提示词)(?:是|写着|说)",
        r"(?:私の)?システムプロンプト(?:は|には)",
    ),
    *_rules(
        "harmful_content",
        0.95,
        "encourages-harm",
        r"\byou should (?:kill|hurt|harm|cut) yourself\b|\b(?:go )?kill yourself\b|"
        r"\bnobody would (?:miss|care about) you\b|"
        r"\bthe world (?:would be|is) better without you\b",
        r"你(?:应该|还是|就)?去死|没人会在乎你|世界没有你会更好",
        r"死ねばいい|死んだ方がいい|誰も(?:あなた|お前|君)を(?:気にし|必要とし)",
    ),
]

INPUT_RULES: tuple[Rule, ...] = (
    *INJECTION,
    *JAILBREAK,
    *SELF_HARM,
    *WARNING_SIGNS,
    *SEXUAL,
    *HARMFUL,
)
OUTPUT_RULES: tuple[Rule, ...] = (*OUTPUT, *SEXUAL, *HARMFUL)
#: The crisis rules alone: a long text is read by them sentence by sentence.
CRISIS_RULES: tuple[Rule, ...] = (*SELF_HARM, *WARNING_SIGNS)


def protective_context(text: str) -> bool:
    """Whether a message about minors and sex is about protecting them (education, abuse)."""
    return _PROTECTIVE.search(text) is not None


def match_rules(text: str, rules: tuple[Rule, ...]) -> dict[str, tuple[float, str]]:
    """Category -> (score, rule name) of the strongest rule of each category that matches."""
    found: dict[str, tuple[float, str]] = {}
    if sexual_minors(text):
        found["sexual_minors"] = (SEXUAL_MINORS_SCORE, "sexual-minors")
    scripts = _scripts(text)
    # A crisis rule whose words are nowhere cannot match: searched once, for all of them.
    possible = {id(rule) for rule in crisis_rules_in(text)}
    for rule in rules:
        if rule.category == "self_harm" and id(rule) not in possible:
            continue
        best = found.get(rule.category)
        if (best is None or best[0] < rule.score) and _hit(rule, text, scripts):
            found[rule.category] = (rule.score, rule.name)
    return found


def crisis_rule(text: str, rules: tuple[Rule, ...] = CRISIS_RULES) -> float:
    """The score of the strongest crisis rule of ``rules`` that ``text`` matches, or 0."""
    scripts = _scripts(text)
    return max((r.score for r in rules if _hit(r, text, scripts)), default=0.0)


@lru_cache(maxsize=16)
def crisis_rules_in(text: str) -> tuple[Rule, ...]:
    """The crisis rules whose words occur in ``text``, in anyone's words.

    The only ones the sentences of ``text`` can match, so the only ones worth trying.
    Kept for the last texts: one check asks for the same text more than once.
    """
    scripts = _scripts(text)
    return tuple(r for r in CRISIS_RULES if _in_script(r, scripts) and r.anywhere.found(text))


def _scripts(text: str) -> tuple[bool, bool]:
    """Whether ``text`` has CJK characters, and whether it has Latin letters."""
    return _CJK_CHAR.search(text) is not None, _LATIN.search(text) is not None


def _in_script(rule: Rule, scripts: tuple[bool, bool]) -> bool:
    """Whether ``rule`` can match a text of these ``scripts`` (:func:`_scripts`)."""
    has_cjk, has_latin = scripts
    return has_cjk if rule.cjk else has_latin


def _hit(rule: Rule, text: str, scripts: tuple[bool, bool]) -> bool:
    """Whether ``rule`` matches ``text`` (a crisis rule: in the writer's own words)."""
    if not _in_script(rule, scripts):
        return False
    if rule.category == "self_harm":
        return any(not reported(text, m.start(), m.end()) for m in rule.matcher.finditer(text))
    return rule.anywhere.found(text)


def reported(text: str, start: int, end: int | None = None) -> bool:
    """Whether the words at ``start`` (a match up to ``end``) are someone else's.

    Quoted or reported speech: "my friend said ...", 同学跟我说..., 「...」. The first few
    characters of the match count too (in 同学跟我说想自杀 the match starts at 我, with the
    speech verb inside it), and so does the opening of a quotation the match sits in.
    """
    last = min(end if end is not None else start + 1, start + _REPORT_REACH)
    spots = list(range(start, last))
    before = text[:start]
    if before.count('"') % 2:
        spots.append(before.rindex('"'))
    return any(_REPORTED.search(text, max(0, at - 40), at) is not None for at in spots)
