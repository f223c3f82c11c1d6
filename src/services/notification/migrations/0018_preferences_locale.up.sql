-- 0018_preferences_locale (issue 13: statement mails to treasurers "in their locale"): the
-- language a user wants notifications in (BCP 47 "fr" or "fr-CA"); null = the audience's own
-- (a member's profile language) or "en". Template resolution then goes club override in that
-- locale, club override "en", network default in that locale, network default "en".
ALTER TABLE notification.preferences
    ADD COLUMN locale text CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$');
