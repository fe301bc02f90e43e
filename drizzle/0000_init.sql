CREATE TABLE `cursors` (
	`source` text PRIMARY KEY NOT NULL,
	`cursor` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `post_langs` (
	`lang` text NOT NULL,
	`indexed_at` integer NOT NULL,
	`uri` text NOT NULL,
	`source` text NOT NULL,
	PRIMARY KEY(`lang`, `indexed_at`, `uri`)
);
--> statement-breakpoint
CREATE INDEX `post_langs_uri_idx` ON `post_langs` (`uri`);--> statement-breakpoint
CREATE TABLE `posts` (
	`uri` text PRIMARY KEY NOT NULL,
	`cid` text NOT NULL,
	`author` text NOT NULL,
	`text` text NOT NULL,
	`created_at` integer NOT NULL,
	`indexed_at` integer NOT NULL,
	`reply_root` text,
	`reply_parent` text,
	`declared_langs` text NOT NULL,
	`detected_lang` text,
	`lang_confidence` real
);
--> statement-breakpoint
CREATE INDEX `posts_author_idx` ON `posts` (`author`);--> statement-breakpoint
CREATE INDEX `posts_indexed_at_idx` ON `posts` (`indexed_at`);