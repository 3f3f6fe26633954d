package io.dats.worker.task;

import java.util.List;

import io.dats.worker.task.ArtifactExtractor.Artifact;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

class ArtifactExtractorTest {

    @Test
    void takesLanguageAndPathFromTheInfoString() {
        String answer = "Here you go.\n\n```python src/fib.py\ndef fib(n):\n    return n\n```\n\nDone.";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "c");

        assertThat(artifacts).containsExactly(
                new Artifact("code", "python", "src/fib.py", "def fib(n):\n    return n\n"));
    }

    @Test
    void lowerCasesTheLanguageOfTheFence() {
        List<Artifact> artifacts = ArtifactExtractor.extract("```Python\nx = 1\n```\n", "c");

        assertThat(artifacts).singleElement().satisfies(artifact -> {
            assertThat(artifact.language()).isEqualTo("python");
            assertThat(artifact.path()).isEqualTo("artifact-1.py");
        });
    }

    @Test
    void takesThePathFromAPathAttribute() {
        String answer = "```typescript path=src/app/Button.tsx\nexport const Button = () => null;\n```\n"
                + "```tsx filename=\"src/Card.tsx\"\nexport const Card = 1;\n```\n";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "tsx");

        assertThat(artifacts).extracting(Artifact::language, Artifact::path).containsExactly(
                tuple("typescript", "src/app/Button.tsx"),
                tuple("tsx", "src/Card.tsx"));
    }

    @Test
    void usesTheDefaultLanguageWhenTheFenceHasOnlyAPathAttribute() {
        List<Artifact> artifacts = ArtifactExtractor.extract("```path=main.c\nint main(void) { return 0; }\n```\n", "c");

        assertThat(artifacts).singleElement().satisfies(artifact -> {
            assertThat(artifact.language()).isEqualTo("c");
            assertThat(artifact.path()).isEqualTo("main.c");
        });
    }

    @Test
    void takesThePathFromAFirstLineFileComment() {
        String answer = "```python\n# file: x.py\nprint(1)\n```\n\n```c\n// path: a/b.c\nint x;\n```\n";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "python");

        assertThat(artifacts).extracting(Artifact::path).containsExactly("x.py", "a/b.c");
        assertThat(artifacts.get(0).content()).isEqualTo("# file: x.py\nprint(1)\n");
        assertThat(artifacts.get(1).language()).isEqualTo("c");
    }

    @Test
    void ignoresAFileCommentThatIsNotOnTheFirstLine() {
        List<Artifact> artifacts = ArtifactExtractor.extract("```python\nprint(1)\n# file: late.py\n```\n", "python");

        assertThat(artifacts).extracting(Artifact::path).containsExactly("artifact-1.py");
    }

    @Test
    void generatesNumberedPathsWithTheLanguagesExtension() {
        String answer = "```java\nclass A {}\n```\ntext\n```bash\necho hi\n```\n```brainfuck\n+++\n```\n";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "python");

        assertThat(artifacts).extracting(Artifact::path)
                .containsExactly("artifact-1.java", "artifact-2.sh", "artifact-3.txt");
    }

    @Test
    void givesBlocksWithoutALanguageTheDefaultLanguage() {
        List<Artifact> artifacts = ArtifactExtractor.extract("```\nint x = 1;\n```\n", "c");

        assertThat(artifacts).containsExactly(new Artifact("code", "c", "artifact-1.c", "int x = 1;\n"));
    }

    @Test
    void fallsBackToTextWhenThereIsNoDefaultLanguage() {
        assertThat(ArtifactExtractor.extract("```\nsomething\n```\n", null))
                .containsExactly(new Artifact("code", "text", "artifact-1.txt", "something\n"));
        assertThat(ArtifactExtractor.extract("```\nsomething\n```\n", " "))
                .extracting(Artifact::language).containsExactly("text");
    }

    @Test
    void makesDuplicatePathsUnique() {
        String answer = "```python src/a.py\nv1\n```\n```python src/a.py\nv2\n```\n```python src/a.py\nv3\n```\n"
                + "```text README\nr1\n```\n```text path=README\nr2\n```\n";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "python");

        assertThat(artifacts).extracting(Artifact::path)
                .containsExactly("src/a.py", "src/a-2.py", "src/a-3.py", "artifact-4.txt", "README");
        assertThat(artifacts).extracting(Artifact::content).containsExactly("v1\n", "v2\n", "v3\n", "r1\n", "r2\n");
    }

    @Test
    void makesAGeneratedPathUniqueAgainstANamedOne() {
        String answer = "```python artifact-2.py\nnamed\n```\n```python\nunnamed\n```\n";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "python");

        assertThat(artifacts).extracting(Artifact::path).containsExactly("artifact-2.py", "artifact-2-2.py");
    }

    @Test
    void readsTildeFences() {
        String answer = "~~~go cmd/main.go\npackage main\n```not a fence end```\n~~~\n";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "python");

        assertThat(artifacts).containsExactly(
                new Artifact("code", "go", "cmd/main.go", "package main\n```not a fence end```\n"));
    }

    @Test
    void closesAFenceOnlyWithTheSameMarker() {
        String answer = "````markdown docs/guide.md\n# Guide\n```bash\nls\n```\n````\n";

        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "markdown");

        assertThat(artifacts).containsExactly(
                new Artifact("code", "markdown", "docs/guide.md", "# Guide\n```bash\nls\n```\n"));
    }

    @Test
    void findsNoArtifactsInProseOrNothing() {
        assertThat(ArtifactExtractor.extract("Just prose, `inline code` and no fenced block.", "python")).isEmpty();
        assertThat(ArtifactExtractor.extract("", "python")).isEmpty();
        assertThat(ArtifactExtractor.extract(null, "python")).isEmpty();
        assertThat(ArtifactExtractor.extract("```python\nunterminated block\n", "python")).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "```python ../../etc/passwd\nx\n```\n",
            "```python /abs/x.py\nx\n```\n",
            "```python C:\\x.py\nx\n```\n",
            "```python c:/x.py\nx\n```\n",
            "```python src/../../x.py\nx\n```\n",
            "```python ..\\..\\evil.py\nx\n```\n",
            "```python ..\nx\n```\n",
            "```python\n# file: ../../etc/passwd\nx\n```\n",
            "```python\n# file: C:\\x.py\nx\n```\n",
            "```python\n// path: /abs/x.py\nx\n```\n",
    })
    void replacesAnUnsafePathWithAGeneratedOne(String answer) {
        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "python");

        assertThat(artifacts).singleElement().satisfies(artifact -> assertThat(artifact.path()).isEqualTo("artifact-1.py"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "```python path=../../etc/passwd\nx\n```\n",
            "```python path=/etc/passwd\nx\n```\n",
            "```python file=/etc/passwd\nx\n```\n",
            "```python filename=\"C:\\Windows\\x.py\"\nx\n```\n",
            "```python title=../x.py\nx\n```\n",
            "```python path=a/../../../x.py\nx\n```\n",
    })
    void neverUsesAnUnsafeNamedPathAsIs(String answer) {
        List<Artifact> artifacts = ArtifactExtractor.extract(answer, "python");

        assertThat(artifacts).singleElement().satisfies(artifact -> {
            assertThat(artifact.path())
                    .doesNotStartWith("/")
                    .doesNotContain("\\")
                    .doesNotMatch("^[A-Za-z]:.*")
                    .doesNotMatch("(^|.*/)\\.\\.(/.*|$)");
            assertThat(artifact.content()).isEqualTo("x\n");
        });
    }

    @Test
    void normalisesAPathThatStaysInsideTheRoot() {
        List<Artifact> artifacts = ArtifactExtractor.extract("```python ./src/./pkg/../fib.py\nx\n```\n", "python");

        assertThat(artifacts).extracting(Artifact::path).containsExactly("src/fib.py");
    }

    @Test
    void turnsBackslashesIntoSlashes() {
        List<Artifact> artifacts = ArtifactExtractor.extract("```python src\\pkg\\fib.py\nx\n```\n", "python");

        assertThat(artifacts).extracting(Artifact::path).containsExactly("src/pkg/fib.py");
    }

    // --- docs kind ---

    @Test
    void keepsAWholeMarkdownAnswerAsOneDocumentNamedAfterItsFirstHeading() {
        String answer = "# Getting Started\n\nIntro.\n\n## Install\n\n```bash\npip install x\n```\n\n### Notes\nDone.";

        List<Artifact> artifacts = ArtifactExtractor.documents(answer);

        assertThat(artifacts).singleElement().satisfies(doc -> {
            assertThat(doc.type()).isEqualTo("documentation");
            assertThat(doc.language()).isEqualTo("markdown");
            assertThat(doc.path()).isEqualTo("getting-started.md");
            assertThat(doc.content()).contains("# Getting Started\n").contains("## Install\n").contains("### Notes\n")
                    .contains("```bash\npip install x\n```");
        });
    }

    @Test
    void takesEachFencedMarkdownBlockAsADocumentWithItsPath() {
        String answer = "Two files.\n\n````markdown docs/api.md\n# API\n\n```json\n{}\n```\n````\n\n"
                + "```md\n# Usage Guide\nRun it.\n```\n";

        List<Artifact> artifacts = ArtifactExtractor.documents(answer);

        assertThat(artifacts).extracting(Artifact::path).containsExactly("docs/api.md", "usage-guide.md");
        assertThat(artifacts).extracting(Artifact::type).containsOnly("documentation");
        assertThat(artifacts.get(0).content()).isEqualTo("# API\n\n```json\n{}\n```\n");
    }

    @Test
    void namesADocumentWithoutHeadingReadme() {
        assertThat(ArtifactExtractor.documents("Just text.")).extracting(Artifact::path).containsExactly("README.md");
        assertThat(ArtifactExtractor.documents("  ")).isEmpty();
    }

    // --- ui kind ---

    @Test
    void turnsHtmlCssTsxJsxAndSvgBlocksIntoUiArtifacts() {
        String answer = "```tsx src/Button.tsx\nexport const B = () => <button/>;\n```\n"
                + "```css\n.b { color: red; }\n```\n"
                + "```html\n<main></main>\n```\n"
                + "```jsx\nconst x = <div/>;\n```\n"
                + "```svg icons/logo.svg\n<svg></svg>\n```\n"
                + "```xml\n<svg viewBox=\"0 0 1 1\"></svg>\n```\n"
                + "```bash\nnpm install\n```\n";

        List<Artifact> artifacts = ArtifactExtractor.ui(answer, "tsx");

        assertThat(artifacts).extracting(Artifact::type)
                .containsExactly("ui", "ui", "ui", "ui", "ui", "ui", "code");
        assertThat(artifacts).extracting(Artifact::language)
                .containsExactly("tsx", "css", "html", "jsx", "svg", "svg", "bash");
        assertThat(artifacts).extracting(Artifact::path)
                .containsExactly("src/Button.tsx", "artifact-2.css", "artifact-3.html", "artifact-4.jsx", "icons/logo.svg",
                        "artifact-6.txt", "artifact-7.sh");
    }

    @Test
    void takesTheUiLanguageFromThePathWhenTheFenceNamesAnother() {
        List<Artifact> artifacts = ArtifactExtractor.ui("```typescript src/Card.tsx\nexport {};\n```\n", "tsx");

        assertThat(artifacts).singleElement().satisfies(artifact -> {
            assertThat(artifact.type()).isEqualTo("ui");
            assertThat(artifact.language()).isEqualTo("tsx");
        });
    }
}
