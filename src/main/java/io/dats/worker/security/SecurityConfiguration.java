package io.dats.worker.security;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.csrf.CookieCsrfTokenRepository;
import org.springframework.security.web.csrf.CsrfTokenRequestAttributeHandler;

/**
 * The task API ({@code /api/v1/**}) and {@code /health} are open to the worker's clients; everything else
 * (actuator, Jolokia at /actuator/jolokia, Hawtio at /actuator/hawtio) needs an authenticated user with role ADMIN.
 * The user comes from the environment ({@code SPRING_SECURITY_USER_NAME}/{@code SPRING_SECURITY_USER_PASSWORD});
 * without it Spring Boot generates a password at start and logs it.
 */
@Configuration(proxyBeanMethods = false)
class SecurityConfiguration {

    @Bean
    SecurityFilterChain workerSecurity(HttpSecurity http) throws Exception {
        http.authorizeHttpRequests(requests -> requests
                        .requestMatchers("/health", "/api/v1/**", "/error").permitAll()
                        .anyRequest().hasRole("ADMIN"))
                // Hawtio's browser client sends the XSRF-TOKEN cookie back as X-XSRF-TOKEN on its Jolokia POSTs
                .csrf(csrf -> csrf.ignoringRequestMatchers("/api/v1/**")
                        .csrfTokenRepository(CookieCsrfTokenRepository.withHttpOnlyFalse())
                        .csrfTokenRequestHandler(new CsrfTokenRequestAttributeHandler()))
                .httpBasic(Customizer.withDefaults())
                .formLogin(Customizer.withDefaults());
        return http.build();
    }
}
