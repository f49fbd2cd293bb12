-- The movies database upstream Osiris's example pipelines read (`@mysql.db_movies`), written for
-- this project: directors, movies, actors, the cast, and reviews, with NULLs, a director without
-- movies, a movie without director, and text that needs quoting in CSV.
CREATE TABLE directors (
  director_id INT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  nationality VARCHAR(50),
  birth_year SMALLINT
);
CREATE TABLE movies (
  movie_id INT PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  release_year SMALLINT,
  director_id INT,
  genre VARCHAR(50),
  runtime_minutes INT,
  budget_usd DECIMAL(15,2),
  box_office_usd DECIMAL(15,2)
);
CREATE TABLE actors (
  actor_id INT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  birth_date DATE,
  country CHAR(2)
);
CREATE TABLE movie_actors (
  movie_id INT NOT NULL,
  actor_id INT NOT NULL,
  role_name VARCHAR(100),
  PRIMARY KEY (movie_id, actor_id)
);
CREATE TABLE reviews (
  review_id INT PRIMARY KEY,
  movie_id INT NOT NULL,
  reviewer VARCHAR(80),
  rating DECIMAL(3,1),
  review_text TEXT,
  reviewed_at DATETIME
);
INSERT INTO directors VALUES
  (1, 'Greta Lindqvist', 'Swedish', 1971),
  (2, 'Tomás Herrera', 'Mexican', 1965),
  (3, 'Aiko Tanabe', 'Japanese', 1980),
  (4, 'Malcolm O''Reilly', 'Irish', NULL),
  (5, 'Priya Natarajan', 'Indian', 1983),
  (6, 'Jean-Luc Moreau', NULL, 1959);
INSERT INTO movies VALUES
  (1, 'Northern Lights', 1999, 1, 'Drama', 124, 12000000.00, 48250000.50),
  (2, 'Winter Ledger', 2004, 1, 'Thriller', 109, 18500000.00, 33120000.00),
  (3, 'The Quiet Harbour', 2011, 1, 'Drama', 131, 9000000.00, 21500000.00),
  (4, 'Sol de Medianoche', 2001, 2, 'Adventure', 142, 45000000.00, 160300000.00),
  (5, 'Río Abajo', 2008, 2, 'Drama', 98, 7250000.00, 6100000.00),
  (6, 'Paper Cranes', 2015, 3, 'Animation', 96, 30000000.00, 212750000.25),
  (7, 'Neon Tide', 2019, 3, 'Sci-Fi', 117, 60000000.00, 98400000.00),
  (8, 'Glass Orchard', 2021, 3, 'Animation', 101, 25000000.00, NULL),
  (9, 'Tides of Galway', 1997, 4, 'Drama', 112, 5300000.00, 11870000.00),
  (10, 'The "Last" Ferry, Part 2', 2002, 4, 'Comedy', 93, 0.00, 1250000.00),
  (11, 'Monsoon Letters', 2012, 5, 'Romance', 138, 3100000.00, 17900000.00),
  (12, 'Saffron Skies', 2018, 5, 'Drama', 127, NULL, 22450000.00),
  (13, 'Untitled Project', 2023, NULL, 'Documentary', 88, 400000.00, 150000.00),
  (14, 'Kite Runner''s Son', 2016, 5, 'Drama', 119, 8800000.00, 26480000.00);
INSERT INTO actors VALUES
  (1, 'Ingrid Vall', '1978-03-14', 'SE'),
  (2, 'Diego Ramírez', '1982-11-02', 'MX'),
  (3, 'Haruto Kimura', '1990-07-21', 'JP'),
  (4, 'Siobhán Kelly', NULL, 'IE'),
  (5, 'Arjun Mehta', '1986-01-30', 'IN'),
  (6, 'Léa Fontaine', '1995-05-05', NULL);
INSERT INTO movie_actors VALUES
  (1, 1, 'Astrid'), (2, 1, 'Detective Berg'), (3, 1, NULL), (4, 2, 'Mateo'),
  (5, 2, 'Father'), (6, 3, 'Voice of Kenji'), (7, 3, 'Pilot'), (9, 4, 'Nora'),
  (10, 4, 'Maeve, the "captain"'), (11, 5, 'Ravi'), (12, 5, 'Dev'), (14, 5, 'Samir'),
  (14, 6, 'Claire'), (7, 6, 'Engineer');
INSERT INTO reviews VALUES
  (1, 1, 'film_fan', 8.5, 'Slow, but beautiful.', '2020-01-15 10:30:00'),
  (2, 1, 'critic_a', 7.0, 'Long; the ending "lands".', '2020-02-01 08:00:00'),
  (3, 4, 'critic_b', 9.1, 'Epic.\nSecond line of the review.', '2019-06-30 22:15:45'),
  (4, 6, 'ana', 9.8, 'Ünïcödé praise ✓', '2016-03-03 03:03:03'),
  (5, 7, NULL, 6.4, NULL, '2020-12-24 18:00:00'),
  (6, 10, 'joe', 3.2, 'Commas, commas, commas', NULL),
  (7, 14, 'mira', 8.0, '', '2017-08-08 08:08:08');
