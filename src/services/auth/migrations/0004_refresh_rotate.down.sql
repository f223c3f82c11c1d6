DROP FUNCTION auth.refresh_rotate(text, text, int);
