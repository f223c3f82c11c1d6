SELECT core.drop_outbox('reciprocal');
DROP SCHEMA reciprocal CASCADE;
