#!/bin/sh
# Generates src/lib/credentials/common_passwords.c: the common-password block list that
# password_check_policy embeds (issue 3, "reject the most common passwords").
#
# There was no network access when this was written, so the list is not a download of a leak
# corpus: it is built here from (1) a seed list of the best-known leaked passwords and words
# (the top of the public RockYou / "10k most common" lists as commonly cited), (2) those words
# with the usual suffixes (digits, sequences, years 1980-2026, "!") and doubled, (3) patterns:
# repeated characters and units, ascending/descending digit and letter runs, keyboard walks,
# and well-known phrases. Only entries of 12..128 characters are kept (shorter passwords are
# already refused by the length rule), lower-cased (the lookup is ASCII case-insensitive),
# sorted bytewise (LC_ALL=C) and de-duplicated, so the C side can binary-search with strcmp.
#
# Usage: tools/gen_common_passwords.sh > src/lib/credentials/common_passwords.c
# To extend the list: add seed words or phrases below, re-run, commit both files.
set -eu
LC_ALL=C
export LC_ALL

seeds() {
    cat <<'EOF'
password passw0rd p@ssword p@ssw0rd pa55word pass passwd secret
123456 12345678 123456789 1234567890 1234567 12345 1234 111111 123123 000000 654321 666666
121212 112233 123321 159753 987654321 7777777 555555 131313 696969 11111111 88888888 1q2w3e
qwerty qwertyuiop qwerty123 qwe123 123qwe asdf asdfgh asdfghjkl zxcvbn zxcvbnm qazwsx 1qaz2wsx
abc123 abcdef abcd1234 a1b2c3 aaaaaa iloveyou iloveu loveyou loveme lovely love
admin administrator root toor user guest test testing tester demo default changeme login
welcome letmein trustno1 whatever nothing access master monkey dragon shadow sunshine princess
football baseball basketball soccer hockey tennis golf golfer golfing cricket rugby
superman batman spiderman starwars startrek pokemon minecraft fortnite roblox matrix
computer internet freedom hello hellokitty killer hunter ranger harley mustang
ferrari porsche mercedes corvette yankees cowboys steelers lakers redsox packers
liverpool arsenal chelsea manchester barcelona realmadrid juventus
google facebook linkedin twitter instagram youtube microsoft apple samsung android iphone
michael jennifer jessica charlie thomas daniel matthew andrew joshua ashley amanda nicole
michelle elizabeth christopher alexander robert william jordan taylor george anthony
justin hannah sophie olivia emily jasmine maggie ginger pepper buster tigger bailey
chocolate butterfly flower summer winter spring autumn purple orange yellow silver golden
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
angel babygirl baby sweety sweetheart princesa mylove forever friends family
blink182 metallica nirvana slipknot eminem beyonce
qwertyui asdfghjk zxcvbnma letmein1 welcome1 password1 iloveyou1
heaven jesus christ god blessed faith hope trinity
cheese cookie banana apple1 orange1 peanut coffee pizza
shadow1 master1 dragon1 monkey1 superman1 batman1
london paris berlin newyork chicago dallas boston texas california florida
america canada england france germany australia
reciprocal club clubs member members membership country countryclub golfclub
reciprocity network travel visit guestpass clubhouse
EOF
}

phrases() {
    cat <<'EOF'
iloveyouforever
iloveyoubaby
iloveyousomuch
iloveyoumom
iloveyoudad
letmeinplease
letmeinnow
welcometomyworld
thisismypassword
mypasswordis
mynewpassword
newpassword
correcthorsebatterystaple
trustnoone
passwordpassword
changemenow
changemeplease
opensesame
whateverwhatever
nopassword
forgotpassword
iforgotmypassword
ihateyou
fuckyou
secretpassword
supersecret
supersecretpassword
verysecurepassword
securepassword
strongpassword
goodpassword
mypassword
yourpassword
administrator
adminadmin
rootroot
qwertyqwerty
qwertyuiopasdfghjkl
letmeinletmein
helloworld
hellohello
godisgood
jesuschrist
jesuslovesme
blessedandhighlyfavored
princessprincess
football4life
soccer4life
loveyouforever
friendsforever
bestfriendsforever
happybirthday
merrychristmas
chrisbrown
onedirection
justinbieber
teamo
EOF
}

{
    seeds | tr ' ' '\n' | sed '/^$/d' | sed 's/^/W /'
    phrases | sed 's/^/P /'
} | awk '
function out(s) { print s }
function rep(u, n,   r, i) { r = ""; for (i = 0; i < n; i++) r = r u; return r }
BEGIN {
    nsuf = split("1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890 " \
                 "! 1! 123! 1234! !! @123 01 007 69 123123 321 654321 987654321 " \
                 "abc123 qwerty", suf, " ")
}
$1 == "W" {
    w = $2
    out(w)
    for (i = 1; i <= nsuf; i++) out(w suf[i])
    out("123" w); out("1234" w); out("123456" w); out("1" w "1")
    for (y = 1980; y <= 2026; y++) out(w y)
    for (y = 2020; y <= 2026; y++) out(w y "!")
    out(w w); out(w w w); out(w w "1"); out(w w "123"); out("my" w); out("my" w "123")
    out("ilove" w); out("iloveyou" w); out(w "isthebest"); out("the" w)
}
$1 == "P" {
    p = $2
    out(p)
    for (i = 1; i <= nsuf; i++) out(p suf[i])
    for (y = 2015; y <= 2026; y++) out(p y)
}
END {
    # repeated characters and short units, 12..20 long plus a few longer
    chars = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*.-_+=?"
    for (i = 1; i <= length(chars); i++) {
        c = substr(chars, i, 1)
        for (n = 12; n <= 20; n++) out(rep(c, n))
        out(rep(c, 24)); out(rep(c, 32))
    }
    nunit = split("12 123 1234 12345 123456 ab abc abcd abc1 a1 1a qw qwe qwer qwert asd asdf " \
                  "zxc zxcv 01 10 69 007 11 22 13 21 321 4321 pass love baby lol haha hehe " \
                  "xo xyz 1q 1q2w 2w 9 00 99 88 77 oo no yes !@ !@# abc! qaz wsx", unit, " ")
    for (i = 1; i <= nunit; i++)
        for (n = 2; n <= 16; n++) {
            s = rep(unit[i], n)
            if (length(s) >= 12 && length(s) <= 24) out(s)
        }
    # ascending and descending digit runs (wrapping), 12..24 long, from every start digit
    for (st = 0; st <= 9; st++)
        for (n = 12; n <= 24; n++) {
            a = ""; d = ""
            for (k = 0; k < n; k++) { a = a ((st + k) % 10); d = d ((st - k + 100) % 10) }
            out(a); out(d)
        }
    # letters: alphabet runs and their reverses, keyboard rows and walks (prefixes 12..len)
    nwalk = split("abcdefghijklmnopqrstuvwxyz zyxwvutsrqponmlkjihgfedcba " \
                  "qwertyuiopasdfghjklzxcvbnm mnbvcxzlkjhgfdsapoiuytrewq " \
                  "qwertyuiop[]asdfghjkl;zxcvbnm,./ 1234567890-=qwertyuiop[] " \
                  "1234567890qwertyuiopasdfghjklzxcvbnm " \
                  "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/ 1qaz2wsx3edc4rfv5tgb6yhn " \
                  "qazwsxedcrfvtgbyhnujmikolp zaq1xsw2cde3vfr4bgt5nhy6mju7 " \
                  "zaq12wsxcde34rfvbgt56yhn 1q2w3e4r5t6y7u8i9o0p 1q2w3e4r5t6y7u8i9o0p-[=] " \
                  "q1w2e3r4t5y6u7i8o9p0 a1s2d3f4g5h6j7k8l9 z1x2c3v4b5n6m7 " \
                  "qweasdzxcqweasdzxc qweasdzxc123456789 1234qwerasdfzxcv " \
                  "qwerasdfzxcvqwerasdfzxcv asdfqwerzxcv1234 1qazxsw23edcvfr4 " \
                  "!qaz@wsx#edc$rfv%tgb !@#$%^&*()_+ !@#$%^&*()_+qwertyuiop " \
                  "poiuytrewqlkjhgfdsamnbvcxz 0987654321poiuytrewq " \
                  "1234567890abcdefghij abcdefghij1234567890 a1b2c3d4e5f6g7h8i9j0 " \
                  "1a2b3c4d5e6f7g8h9i0j aa11bb22cc33dd44 q1q1q1q1q1q1q1q1 " \
                  "qwertzuiopasdfghjklyxcvbnm azertyuiopqsdfghjklmwxcvbn", walk, " ")
    for (i = 1; i <= nwalk; i++)
        for (n = 12; n <= length(walk[i]); n++) out(substr(walk[i], 1, n))
    # combos of two short classics
    ncl = split("123456 qwerty password abc123 iloveyou 111111 admin welcome letmein " \
                "monkey dragon 654321 asdfgh zxcvbn qazwsx 1qaz2wsx 000000 abcdef", cl, " ")
    for (i = 1; i <= ncl; i++) for (j = 1; j <= ncl; j++) out(cl[i] cl[j])
}' |
    tr 'A-Z' 'a-z' |
    awk 'length($0) >= 12 && length($0) <= 128' |
    sort -u >"${TMPDIR:-/tmp}/common_passwords.$$"

count=$(wc -l <"${TMPDIR:-/tmp}/common_passwords.$$")
cat <<EOF
/* common_passwords: the embedded common-password block list (see common_passwords.h).
 * GENERATED by tools/gen_common_passwords.sh ($count entries): do not edit by hand; change the
 * script and regenerate. Entries are lower-case ASCII, 12..128 characters, sorted bytewise. */
#include "lib/credentials/common_passwords.h"

#include <string.h>

/* clang-format off */
static const char *const k_common[] = {
EOF
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/",/' "${TMPDIR:-/tmp}/common_passwords.$$"
rm -f "${TMPDIR:-/tmp}/common_passwords.$$"
cat <<'EOF'
};
/* clang-format on */

#define K_COMMON_N (sizeof k_common / sizeof k_common[0])

size_t common_passwords_count(void) {
    return K_COMMON_N;
}

int common_passwords_contains(const char *password) {
    if (!password) return 0;
    size_t n = strlen(password);
    if (n < COMMON_PASSWORDS_MIN_LEN || n > COMMON_PASSWORDS_MAX_LEN) return 0;
    char low[COMMON_PASSWORDS_MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++) {
        char c = password[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    size_t lo = 0, hi = K_COMMON_N;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(low, k_common[mid]);
        if (c == 0) {
            explicit_bzero(low, n);
            return 1;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    explicit_bzero(low, n);
    return 0;
}
EOF
