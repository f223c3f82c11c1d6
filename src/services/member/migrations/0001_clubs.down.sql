SELECT core.drop_outbox('member');
DROP TABLE member.clubs;
DROP SCHEMA member;
