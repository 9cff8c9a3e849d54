"""What the matcher knows about messenger text in general, whatever the FAQ: words that
carry no topic, small talk, asking for a person, reports of something gone wrong, and
groups of words that name one thing in support conversations (in Russian and English, so
a mixed message meets an entry written in either).

Words are written as people write them; the analyzer reduces them to lemmas and stems
when the matcher is built, so any form matches.
"""

from __future__ import annotations

# Words that say nothing about what is asked: pronouns, prepositions, particles, question
# words, politeness and the frames around a question ("подскажите, пожалуйста, можно ли").
FILLER = """
а и но или да нет не ни же ли бы ведь вот вон ну уж еще ещё уже тоже также только просто
я мы вы ты он она они оно меня мне мной нас нам вас вам вами тебя тебе его ее её их им ими
мой моя мое моё мои наш наша наше наши ваш ваша ваше ваши твой свой своя свое своё свои
это этот эта эти тот та те то такой такая такое такие
в во на с со к ко по о об от до из за для при про без у над под через между около
как где куда откуда зачем почему что чего чем кто кого какой какая какое какие
каков сколько ли разве неужели
подскажите подскажи подсказать скажите скажи сказать расскажите расскажи узнать уточнить
пожалуйста пжл плиз спс
хотел хотела хочу хотим хотелось бы интересует интересно вопрос вопросик
можно нельзя могу можете может мочь нужно надо нужен нужна нужны необходимо
есть был была было были будет будут быть является имеется иметь
так тут там здесь сейчас сегодня вообще примерно вроде типа
делать сделать получить оформить make
the a an is are was were be been being am do does did done have has had having
i me my mine we us our you your yours he she it its they them their this that these those
to of in on at by for from with about into over under up out as
what where how why who whom which whose
can could may might would will shall should must
please pls plz kindly just also too so then there here
tell know let want wanna need like get
any some anything something
"""

# Small talk, as whole phrases (regular expressions over lower-case text): "добрый день"
# greets, "день" alone is a word of a question.
GREETINGS = (
    r"привет\w*|здравствуй\w*|здрась?те|приветствую|хай|салют|"
    r"добр(?:ый|ое|ого|ой)\s+(?:день|дня|утро|утра|вечер|вечера|ночи)|"
    r"hello|hi|hey|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)"
)
THANKS = (
    r"спасиб\w*|спс|благодар\w*|мерси|thanks?(?:\s+you)?|thank\s+u|thx|tnx|ty|cheers|"
    r"(?:much\s+)?appreciated?"
)
ACKNOWLEDGEMENTS = (
    r"ок|окей|оки|ok|okay|okey|kk?|хорошо|ладно|понятно|ясно|понял[аи]?|принято|супер|"
    r"отлично|класс|круто|ага|угу|норм|нормально|ясненько|got\s+it|cool|great|fine|nice|"
    r"perfect|sure|alright|all\s+right|understood|yes|yep|yeah|no|nope|да|нет|угу"
)
FAREWELLS = (
    r"пока|до\s+свидания|досвидания|всего\s+доброго|хорошего\s+дня|bye|goodbye|"
    r"see\s+you(?:\s+later)?|have\s+a\s+nice\s+day"
)
# Said around small talk and meaning nothing more ("спасибо большое", "thanks a lot").
SMALLTALK_EXTRA = (
    r"большое|огромное|всем|вам|тебе|еще|ещё|раз|очень|very|much|so|a\s+lot|lot|again|"
    r"you|u|all|guys|ребята|друзья|и|and|же"
)

# Nouns for "a person" (stronger ones ask by themselves) and the verbs that ask for one.
PERSON_STRONG = """
оператор оператора оператором операторы живой живым человеком сотрудником менеджером
operator human agent representative
"""

PERSON_NOUNS = """
человек человека сотрудник менеджер специалист консультант администратор админ
поддержка person someone somebody staff manager support
"""

PERSON_VERBS = """
позвать позовите соединить соедините связать свяжите переключить переключите поговорить
пообщаться общаться переписываться позвоните
talk speak connect transfer chat reach
"""

# "Not a bot": asking for a person by saying what they do not want.
BOTS = "бот робот автоответчик bot robot chatbot"

PERSON_COMMANDS = ("/human", "/operator", "/person", "/оператор", "/человек")

# Words that report something gone wrong, a complaint or a particular case: a question
# sharing words with an entry ("с карты списали дважды за бронь") is then not that entry.
INCIDENTS = """
сломать сломаться сломался сломалась сломан сломано поломка поломался неисправный
нагрубить нагрубил грубить хамить нахамил хамство грубый обмануть обманули
списать списали дважды двойной повторно ошибка ошибочно жалоба пожаловаться жаловаться
претензия украсть украли кража пропасть пропал пропала исчезнуть исчез исчезла
поцарапать повредить разбить разбили сгореть протечь течь вонять шуметь шумят шум
заблокировать заблокировали недействительный зажевать зажевал закончиться закончился
отказать отказали отказ штраф задержка задерживать опоздать перенести перенос занять
заняли занята занято лаять лает забрать забрал забрали
broke broken break rude twice double vanished vanish disappeared missing stolen steal
stole took complain complaint error fail failed failure wrong damaged scratched leak
leaking noisy occupied refused blocked denied overcharged charged dropping drops keeps
delay delayed reschedule
"""

# Words that name one thing in support conversations. A message word and an entry word of
# one group meet half way (not as strongly as the same word). Generic on purpose: what
# people ask shops, clinics, gyms and offices alike.
CONCEPTS: tuple[str, ...] = (
    "цена стоимость стоить почем прайс тариф расценки price cost costs fee fees rate rates",
    "когда часы время график режим расписание открываться открыты закрываться закрыты "
    "when hours schedule open opening close closing time",
    "адрес находиться расположены улица address location located street",
    "добраться доехать дойти пройти попасть проехать метро станция дорога маршрут "
    "directions direction subway metro station route",
    "оплата оплатить платить заплатить карта картой наличные наличка сбп "
    "pay payment paying card cash",
    "возврат вернуть refund refunds money back",
    "отменить отмена отменять cancel cancellation cancelled",
    "бронь бронировать забронировать бронирование резерв резервировать заказать "
    "book booking reserve reservation",
    "телефон номер позвонить связаться контакты почта email phone call contact number",
    "wifi вайфай интернет сеть пароль internet network password",
    "парковка парковать припарковаться машина автомобиль авто парковочный "
    "parking park car cars",
    "велосипед велик самокат велопарковка bike bicycle scooter",
    "кухня еда поесть обед кофе чай микроволновка холодильник "
    "kitchen food eat lunch coffee tea microwave fridge",
    "печать распечатать печатать принтер сканер отсканировать "
    "print printing printer scan scanner",
    "скидка скидки акция акции промокод discount discounts promo offer offers sale",
    "собака кошка кот животное животные питомец пес dog dogs cat cats pet pets animal",
    "ребенок дети детский подросток возраст kid kids child children teen teenager age",
    "гость гости пригласить привести друг коллега guest guests friend invite",
    "шкафчик шкафчики локер хранение хранить locker lockers storage store",
    "душ душевая помыться shower showers",
    "офис кабинет помещение office offices",
    "мероприятие ивент митап конференция event events meetup venue",
    "счет документы закрывающие юрлицо безнал безналичный ип ооо "
    "invoice invoices company documents transfer",
    "забыть потерять находка потерял забыл lost forgot forget found",
    "абонемент подписка membership subscription plan",
    "месяц месячный month monthly",
    "ночь ночью круглосуточно круглосуточный night overnight",
    "праздник праздники праздничный новогодний holiday holidays christmas",
    "пробный попробовать тестовый trial try test",
    "бесплатно бесплатный free",
    "переговорная переговорка переговорный meeting conference",
    "звонок звонки созвон созвониться кабинка будка booth call calls zoom",
    "доставка доставить привезти курьер delivery deliver shipping courier",
    "заказ заказать order orders",
    "гарантия гарантийный warranty guarantee",
    "аккаунт логин войти вход регистрация account login sign signup",
    "приложение app application",
    "размер размеры size sizes",
    "запись записаться appointment",
    "быстро быстрый срочно срочный скоро fast quick quickly urgent express soon asap",
    "долго срок сроки ждать long wait",
)
