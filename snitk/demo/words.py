"""Word pools for the demo corpus generator (plain data; no randomness here).

Class pools (animals, colours, fruits, cities, names, jobs, pets) are disjoint from each other and
from `GENERAL`, so extraction tasks always have exactly one correct answer.
"""

from __future__ import annotations

ANIMALS = (
    "tiger lion zebra horse rabbit monkey eagle shark whale wolf fox bear deer goat sheep camel "
    "panda koala otter beaver turtle frog snake lizard owl parrot duck goose swan pigeon donkey "
    "mouse squirrel dolphin penguin giraffe"
).split()

COLORS = "red blue green yellow purple orange pink brown black white gray violet".split()

FRUITS = (
    "apple banana cherry grape lemon mango melon peach pear plum kiwi lime apricot papaya "
    "coconut fig guava orangefruit raspberry strawberry blueberry"
).split()
# "orange" is a colour here; the fruit pool uses "tangerine" instead of a duplicate.
FRUITS = [("tangerine" if f == "orangefruit" else f) for f in FRUITS]

CITIES = (
    "Paris London Berlin Madrid Rome Vienna Prague Dublin Lisbon Oslo Tokyo Seoul Cairo Lima "
    "Toronto Chicago Boston Denver Sydney Mumbai Nairobi Athens Warsaw Helsinki Zurich"
).split()

NAMES = (
    "Anna Ben Carla David Emma Frank Grace Henry Irene Jack Karen Leo Maria Nina Oscar Paula "
    "Quinn Rosa Sam Tina Umar Vera Walter Xavier Yara Zoe Liam Mia Noah Olivia Ethan Sofia "
    "Lucas Chloe Mason Ella Omar Hana Ivan Lena"
).split()

JOBS = (
    "teacher doctor pilot farmer baker nurse lawyer painter chef driver writer singer "
    "dentist plumber tailor banker"
).split()

PETS = "hamster puppy kitten canary goldfish ferret gerbil cockatoo".split()

SPORTS = "tennis soccer hockey golf rugby cricket chess boxing".split()

# General words (nouns, adjectives, verbs) used for word lists and filler.
GENERAL = (
    "river window garden table chair bottle candle mirror pencil basket bridge castle forest "
    "island desert valley meadow harbor tunnel tower ladder pillow blanket carpet button "
    "ribbon jacket helmet engine rocket planet comet silver golden wooden quiet loud bright "
    "gentle brave calm clever eager fancy happy jolly kind lively proud silly tiny huge "
    "ancient modern narrow wide smooth rough sharp soft warm cold sunny rainy windy cloudy "
    "jump run swim sing dance write read paint build carry climb dream laugh listen travel "
    "whisper wander market school office museum library kitchen station village city street "
    "road field mountain ocean lake stone sand cloud storm thunder shadow light music story "
    "letter paper ticket coin wallet clock watch phone camera radio piano violin guitar drum "
    "hammer shovel bucket rope chain anchor sail boat train truck wagon bicycle cart wheel "
    "door roof wall floor fence gate path hill cave cliff shore wave tide moon star sun sky "
    "winter summer autumn spring morning evening night noon breeze frost snow ice fire smoke "
    "bread cheese butter honey sugar salt pepper soup salad rice pasta cookie cake pie tea "
    "coffee milk juice water glass plate spoon fork knife bowl cup kettle oven lamp shelf "
    "drawer box bag hat shoe sock glove scarf coat shirt dress belt ring necklace crown "
    "flag map compass globe atlas journal notebook poem song novel painting statue fountain "
    "puzzle riddle secret promise wish journey voyage adventure festival parade holiday "
    "circle square triangle arrow spiral pattern stripe dot line edge corner center middle"
).split()

POSITIVE_WORDS = "wonderful great excellent lovely amazing delightful fantastic pleasant superb brilliant".split()
NEGATIVE_WORDS = "terrible awful horrible dreadful boring disappointing poor nasty unpleasant miserable".split()

# Vocabulary for the non-English tasks (common nouns, lower case; Chinese and Russian in their scripts).
SPANISH = (
    "casa perro gato libro mesa silla agua fuego tierra cielo luna sol flor árbol río mar "
    "montaña ciudad calle puerta ventana coche tren barco pan leche queso manzana naranja "
    "camino jardín playa nube lluvia nieve viento piedra papel lápiz reloj camisa zapato "
    "sombrero escuela iglesia mercado puente castillo bosque isla"
).split()
FRENCH = (
    "maison chien chat livre table chaise eau feu terre ciel lune soleil fleur arbre rivière "
    "mer montagne ville rue porte fenêtre voiture train bateau pain lait fromage pomme orange "
    "chemin jardin plage nuage pluie neige vent pierre papier crayon horloge chemise chaussure "
    "chapeau école église marché pont château forêt île"
).split()
GERMAN = (
    "Haus Hund Katze Buch Tisch Stuhl Wasser Feuer Erde Himmel Mond Sonne Blume Baum Fluss "
    "Meer Berg Stadt Straße Tür Fenster Auto Zug Schiff Brot Milch Käse Apfel Orange Weg "
    "Garten Strand Wolke Regen Schnee Wind Stein Papier Bleistift Uhr Hemd Schuh Hut Schule "
    "Kirche Markt Brücke Schloss Wald Insel"
).split()
CHINESE = (
    "房子 狗 猫 书 桌子 椅子 水 火 土地 天空 月亮 太阳 花 树 河 大海 山 城市 街道 门 窗户 汽车 火车 "
    "船 面包 牛奶 奶酪 苹果 橙子 道路 花园 海滩 云 雨 雪 风 石头 纸 铅笔 时钟 衬衫 鞋 帽子 学校 "
    "市场 桥 城堡 森林 岛"
).split()
RUSSIAN = (
    "дом собака кошка книга стол стул вода огонь земля небо луна солнце цветок дерево река "
    "море гора город улица дверь окно машина поезд корабль хлеб молоко сыр яблоко апельсин "
    "дорога сад пляж облако дождь снег ветер камень бумага карандаш часы рубашка ботинок шляпа "
    "школа рынок мост замок лес остров"
).split()

LANGUAGE_WORDS = {"Spanish": SPANISH, "French": FRENCH, "German": GERMAN, "Chinese": CHINESE, "Russian": RUSSIAN}


def _check_disjoint() -> None:
    pools = [ANIMALS, COLORS, FRUITS, CITIES, NAMES, JOBS, PETS, SPORTS, GENERAL, POSITIVE_WORDS, NEGATIVE_WORDS]
    seen: set[str] = set()
    for pool in pools:
        low = {w.lower() for w in pool}
        assert len(low) == len(pool), f"duplicate word in pool {pool[:3]}"
        overlap = seen & low
        assert not overlap, f"word pools overlap: {sorted(overlap)}"
        seen |= low
    for lang, pool in LANGUAGE_WORDS.items():
        assert len(set(pool)) == len(pool), f"duplicate word in the {lang} pool"


_check_disjoint()
